import { STREAMS, encodeEnvelope, type AlertCommandEnvelope } from '@meterstream/contracts';
import type { StreamLog } from '@meterstream/stream';

/**
 * Where the API puts what operators decide about alerts: the `alert-commands` stream, a source of
 * its own (never derived from readings, kept by replay). The API writes nothing else: the stream
 * processor applies the commands to the read model, in order, and a replay applies them again.
 */
export interface AlertCommandSink {
  append(command: AlertCommandEnvelope): Promise<void>;
}

export class StreamAlertCommandSink implements AlertCommandSink {
  constructor(private readonly log: StreamLog) {}

  async append(command: AlertCommandEnvelope): Promise<void> {
    await this.log.append(STREAMS.alertCommands, [{ key: command.lineId, value: encodeEnvelope(command) }]);
  }
}
