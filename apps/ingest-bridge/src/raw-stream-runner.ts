import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { IngestSourceConfig, StreamConfig } from '@meterstream/config';
import { ingestSourceConfig, streamConfig } from '@meterstream/config/nest';
import { Ingest, RawStreamIngest } from '@meterstream/ingest';
import { startRateReporter } from '@meterstream/observability';
import { STREAM_LOG } from '@meterstream/service-modules';
import type { StreamLog } from '@meterstream/stream';

/** The bridges' consumer group on the raw stream: they share its shards and commit their positions under it. */
export const RAW_STREAM_GROUP = 'ingest-bridge';

/**
 * INGEST_SOURCE=kinesis-rule: reads the raw Kinesis stream the AWS IoT topic rule writes and
 * ingests each record's message through the same Ingest as the MQTT path (RawStreamIngest).
 * Stops in onModuleDestroy, before the StreamLogModule it depends on closes, so the batch in
 * progress is stored and its positions committed first.
 */
@Injectable()
export class RawStreamRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('ingest-bridge');
  private consumer: RawStreamIngest | undefined;
  private stopReporter: (() => void) | undefined;

  constructor(
    @Inject(ingestSourceConfig.KEY) private readonly source: IngestSourceConfig,
    @Inject(streamConfig.KEY) private readonly stream: StreamConfig,
    @Inject(STREAM_LOG) private readonly log: StreamLog,
    private readonly bridge: Ingest,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.source.INGEST_SOURCE !== 'kinesis-rule') return;
    const name = `${this.stream.KINESIS_STREAM_PREFIX}${this.source.INGEST_RAW_STREAM}`;
    const consumer = new RawStreamIngest(this.log, this.bridge, {
      stream: this.source.INGEST_RAW_STREAM,
      group: RAW_STREAM_GROUP,
      maxRecordsPerPoll: this.source.BRIDGE_BATCH_MAX,
      idlePollMs: 200,
      onError: (err) => this.logger.warn(err.message),
    });
    this.consumer = consumer;
    this.logger.log(`appending to Kinesis ${this.stream.KINESIS_ENDPOINT ?? this.stream.AWS_REGION} (streams ${this.stream.KINESIS_STREAM_PREFIX}*)`);
    await consumer.start();
    this.logger.log(`subscribed to the IoT rule's raw stream ${name} as group ${RAW_STREAM_GROUP}, owning shards ${consumer.ownedPartitions().join(', ') || '(none yet)'}`);
    this.stopReporter = startRateReporter(
      'ingest',
      () => ({ records: consumer.counters.records, readings: this.bridge.counters.readings, deadLetters: this.bridge.counters.deadLetters }),
      (line) => this.logger.log(line),
      10_000,
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopReporter?.();
    if (!this.consumer) return;
    await this.consumer.stop();
    this.logger.log(`stopped after ${this.consumer.counters.records} raw records: ${this.bridge.counters.readings} readings and ${this.bridge.counters.deadLetters} dead letters`);
  }
}
