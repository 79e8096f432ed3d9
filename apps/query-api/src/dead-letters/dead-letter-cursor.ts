import type { DeadLetterPosition } from '@meterstream/read-model';

/**
 * The `cursor` of GET /dead-letters: the position (receivedAt, id) of the last letter of a page,
 * as base64url JSON. Opaque to clients, so the key can change without breaking them; decoded
 * strictly, because it comes back from the network like any other parameter.
 */

/** Far longer than any cursor this server issues (ids are ~43 characters), short enough to refuse junk cheaply. */
export const MAX_CURSOR_LENGTH = 512;
const MAX_ID_LENGTH = 300;
/** Largest |epoch ms| a JavaScript Date can hold. */
const MAX_EPOCH_MS = 8.64e15;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function encodeCursor(position: DeadLetterPosition): string {
  return Buffer.from(JSON.stringify([position.receivedAt, position.id]), 'utf8').toString('base64url');
}

/** The position a cursor names, or undefined when it is not one this server could have issued. */
export function decodeCursor(cursor: unknown): DeadLetterPosition | undefined {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !BASE64URL.test(cursor)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [receivedAt, id] = value as unknown[];
  if (typeof receivedAt !== 'number' || !Number.isSafeInteger(receivedAt) || Math.abs(receivedAt) > MAX_EPOCH_MS) return undefined;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) return undefined;
  return { receivedAt, id };
}
