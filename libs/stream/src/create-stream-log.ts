import type { Config } from '@meterstream/config';
import { EmbeddedStreamLog } from './embedded';
import type { StreamLog } from './stream-log';

/**
 * Picks the stream adapter from configuration. Only the embedded log exists today; Kinesis and
 * Kafka adapters plug in here (STREAM_BACKEND) without their callers changing.
 */
export function createStreamLog(config: Config): StreamLog {
  return EmbeddedStreamLog.open(config.databaseFile, {
    partitions: config.STREAM_PARTITIONS,
    synchronous: config.LOG_SYNC,
  });
}
