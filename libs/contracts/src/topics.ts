import readingSchema from './reading.v1.schema.json';
import { showText } from './show-value';

/** MQTT topic layout of the original system: devices publish on line/{lineId}/SmartMeterData. */
export const READINGS_TOPIC_FILTER = 'line/+/SmartMeterData';

// The line id rule is the published schema's, so a topic and a payload's lineId can never disagree
// about what a valid line id is.
const LINE_ID_RULE = readingSchema.definitions.reading.properties.lineId;
const LINE_ID_PATTERN = new RegExp(LINE_ID_RULE.pattern);
/** Shortest and longest valid line id (the schema's minLength and maxLength). */
export const LINE_ID_LENGTH = { min: LINE_ID_RULE.minLength, max: LINE_ID_RULE.maxLength } as const;

/** Whether `lineId` satisfies the contract's rule (pattern ^[A-Za-z0-9_-]+$, 1 to 64 characters). */
export function isValidLineId(lineId: string): boolean {
  return lineId.length >= LINE_ID_LENGTH.min && lineId.length <= LINE_ID_LENGTH.max && LINE_ID_PATTERN.test(lineId);
}

export function readingTopic(lineId: string): string {
  return `line/${lineId}/SmartMeterData`;
}

export type ReadingTopic = { ok: true; lineId: string } | { ok: false; reason: string };

/**
 * Reads a readings topic: its line id, or why the topic is not line/{lineId}/SmartMeterData with a
 * valid line id, in words a device maker can act on. Never throws.
 */
export function parseReadingTopic(topic: string): ReadingTopic {
  const levels = topic.split('/');
  if (levels.length === 3 && levels[0] === 'line' && levels[2] === 'SmartMeterData' && isValidLineId(levels[1])) {
    return { ok: true, lineId: levels[1] };
  }
  const expected = 'publish on line/{lineId}/SmartMeterData';
  if (levels[0] !== 'line' || levels.length < 2) return { ok: false, reason: `topic ${showText(topic)} is not line/{lineId}/SmartMeterData` };
  if (levels.length !== 3) {
    return { ok: false, reason: `topic ${showText(topic)} has ${levels.length} levels, not 3; ${expected}` };
  }
  if (levels[2] !== 'SmartMeterData') {
    return { ok: false, reason: `topic ${showText(topic)} ends in ${showText(levels[2])}, not SmartMeterData; ${expected}` };
  }
  const lineId = levels[1];
  if (lineId.length === 0) return { ok: false, reason: `topic ${showText(topic)} has an empty line id; ${expected}` };
  const rule = `a line id is ${LINE_ID_LENGTH.min} to ${LINE_ID_LENGTH.max} characters of A-Z, a-z, 0-9, _ and -`;
  if (lineId.length > LINE_ID_LENGTH.max) return { ok: false, reason: `the topic's line id is ${lineId.length} characters long; ${rule}` };
  return { ok: false, reason: `the topic's line id ${showText(lineId)} is not valid; ${rule}` };
}

/** The {lineId} segment of a readings topic, or undefined when the topic is not one or its line id is invalid. */
export function lineIdFromTopic(topic: string): string | undefined {
  const parsed = parseReadingTopic(topic);
  return parsed.ok ? parsed.lineId : undefined;
}

/** Where alert events for a line are published (alert channel "mqtt"). */
export function alertTopic(lineId: string): string {
  return `alerts/line/${lineId}`;
}
