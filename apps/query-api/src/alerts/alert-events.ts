import { STREAMS, encodeEnvelope, type AlertEnvelope } from '@meterstream/contracts';
import type { StreamLog } from '@meterstream/stream';

/**
 * Where the API puts the alert events operators cause (an acknowledgement): the `alerts` stream,
 * like every other alert event, so the channels deliver them too. The read model is updated at
 * once as well (idempotent by envelope id), so the caller sees the new state in its response.
 */
export interface AlertEventSink {
  append(alert: AlertEnvelope): Promise<void>;
}

export class StreamAlertEventSink implements AlertEventSink {
  constructor(private readonly log: StreamLog) {}

  async append(alert: AlertEnvelope): Promise<void> {
    await this.log.append(STREAMS.alerts, [{ key: alert.lineId, value: encodeEnvelope(alert) }]);
  }
}
