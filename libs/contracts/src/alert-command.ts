import { randomUUID } from 'node:crypto';
import { ENVELOPE_VERSION, type Envelope } from './envelope';

/**
 * What an operator can decide about an alert. Each decision is an event of its own on the
 * `alert-commands` stream — a source like `readings`, never derived from readings — so a replay,
 * which rebuilds every alert from the readings, re-applies them and an acknowledged or closed
 * alert stays so.
 * - `acknowledge`: someone is on it (the alert stays open; the rule still clears it);
 * - `close`: a person ends the alert, with a reason (e.g. the line stopped reporting);
 * - `reopen`: undoes a close.
 */
export type AlertCommandAction = 'acknowledge' | 'close' | 'reopen';

export interface AlertCommandBody {
  action: AlertCommandAction;
  /** The alert it is about: an id the rules derive from the input, so a replay reproduces it. */
  alertId: string;
  /** Who decided (as the API's caller named themselves). */
  by: string;
  /** When (epoch ms, the API's wall clock when it accepted the command). */
  at: number;
  /** A short note for the people who see the alert next (acknowledge, reopen). */
  note?: string;
  /** Why it was closed (close only; required there). */
  reason?: string;
}

export type AlertCommandEnvelope = Envelope<'alert-command', AlertCommandBody>;

/**
 * The envelope of an operator's command. Keyed like the alert (its line), so a line's commands
 * and its readings share a partition number and the processor applies them in the order they
 * were accepted. The id is random: a person deciding twice is two decisions.
 */
export function alertCommandEnvelope(body: AlertCommandBody, subject: { lineId: string; deviceId: string | null }): AlertCommandEnvelope {
  return {
    v: ENVELOPE_VERSION,
    type: 'alert-command',
    id: `cmd:${randomUUID()}`,
    lineId: subject.lineId,
    deviceId: subject.deviceId,
    eventTime: body.at,
    ingestTime: body.at,
    body,
  };
}
