/** MQTT topic layout of the original system: devices publish on line/{lineId}/SmartMeterData. */
export const READINGS_TOPIC_FILTER = 'line/+/SmartMeterData';

const READING_TOPIC = /^line\/([^/+#]+)\/SmartMeterData$/;

export function readingTopic(lineId: string): string {
  return `line/${lineId}/SmartMeterData`;
}

/** The {lineId} segment of a readings topic, or undefined when the topic is not one. */
export function lineIdFromTopic(topic: string): string | undefined {
  const match = READING_TOPIC.exec(topic);
  return match ? match[1] : undefined;
}

/** Where alert events for a line are published (alert channel "mqtt"). */
export function alertTopic(lineId: string): string {
  return `alerts/line/${lineId}`;
}
