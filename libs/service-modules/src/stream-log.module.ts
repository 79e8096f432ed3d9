import { Inject, Module, Optional, type DynamicModule, type OnModuleDestroy } from '@nestjs/common';
import type Database from 'better-sqlite3';
import type { StreamConfig } from '@meterstream/config';
import { streamConfig } from '@meterstream/config/nest';
import { createStreamLog, EmbeddedStreamLog, type PartitionCheckpointStore, type StreamLog } from '@meterstream/stream';
import { CheckpointStoreModule } from './checkpoint-store.module';
import { CHECKPOINT_STORE, EMBEDDED_DATABASE, OPTIONAL_EMBEDDED_DATABASE, STREAM_LOG } from './tokens';

function buildStreamLog(config: StreamConfig, db: Database.Database | null | undefined, checkpointStore?: PartitionCheckpointStore): StreamLog {
  // On the shared embedded database: the log on that handle (its close would close the handle).
  if (db) return new EmbeddedStreamLog(db, { partitions: config.STREAM_PARTITIONS });
  return createStreamLog(config, { checkpointStore });
}

export interface StreamLogModuleOptions {
  /**
   * Kinesis only (it has no groups of its own: leases and positions live in a DynamoDB table).
   * 'own' (default): the log opens its own connection to the lease table. 'checkpoint-store': the
   * log shares the CheckpointStoreModule's lease table, whose leases fence the processor's checkpoints.
   */
  positions?: 'own' | 'checkpoint-store';
}

/**
 * The stream log (createStreamLog, namespace `stream`: the embedded SQLite log, Kafka or Kinesis;
 * adapters required lazily, so the embedded default loads neither kafkajs nor the AWS SDK). Without
 * the shared embedded database it owns what it opens (its own SQLite handle with LOG_SYNC).
 * With `positions: 'checkpoint-store'` the CheckpointStoreModule is imported, so NestJS destroys
 * this module, closing the log, before it closes the store.
 */
@Module({})
export class StreamLogModule implements OnModuleDestroy {
  static register(options: StreamLogModuleOptions = {}): DynamicModule {
    const shared = options.positions === 'checkpoint-store';
    return {
      module: StreamLogModule,
      imports: shared ? [CheckpointStoreModule] : [],
      providers: [
        shared
          ? {
              provide: STREAM_LOG,
              useFactory: (config: StreamConfig, checkpointStore: PartitionCheckpointStore, db?: Database.Database | null) => buildStreamLog(config, db, checkpointStore),
              inject: [streamConfig.KEY, CHECKPOINT_STORE, OPTIONAL_EMBEDDED_DATABASE],
            }
          : {
              provide: STREAM_LOG,
              useFactory: (config: StreamConfig, db?: Database.Database | null) => buildStreamLog(config, db),
              inject: [streamConfig.KEY, OPTIONAL_EMBEDDED_DATABASE],
            },
      ],
      exports: shared ? [STREAM_LOG, CheckpointStoreModule] : [STREAM_LOG],
    };
  }

  constructor(
    @Inject(STREAM_LOG) private readonly log: StreamLog,
    @Optional() @Inject(EMBEDDED_DATABASE) private readonly sharedDatabase?: Database.Database | null,
  ) {}

  async onModuleDestroy(): Promise<void> {
    // A log on the shared handle leaves it to EmbeddedDatabaseModule.
    if (!this.sharedDatabase) await this.log.close();
  }
}
