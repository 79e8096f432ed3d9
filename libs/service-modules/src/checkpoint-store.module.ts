import { Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import type Database from 'better-sqlite3';
import type { StreamConfig } from '@meterstream/config';
import { streamConfig } from '@meterstream/config/nest';
import { createCheckpointStore, SqliteCheckpointStore, type PartitionCheckpointStore } from '@meterstream/stream';
import { CHECKPOINT_STORE, OPTIONAL_EMBEDDED_DATABASE } from './tokens';

/**
 * The partition checkpoint store (createCheckpointStore, namespace `stream`): a compacted topic
 * on Kafka, the DynamoDB lease table on Kinesis, SQLite otherwise; on the shared embedded database, a store on that handle so the
 * checkpoints commit in the processor's transaction.
 */
@Module({
  providers: [
    {
      provide: CHECKPOINT_STORE,
      useFactory: (config: StreamConfig, db?: Database.Database | null): PartitionCheckpointStore => (db ? new SqliteCheckpointStore(db) : createCheckpointStore(config)),
      inject: [streamConfig.KEY, OPTIONAL_EMBEDDED_DATABASE],
    },
  ],
  exports: [CHECKPOINT_STORE],
})
export class CheckpointStoreModule implements OnModuleDestroy {
  constructor(@Inject(CHECKPOINT_STORE) private readonly store: PartitionCheckpointStore) {}

  // A store on the shared handle leaves it open (EmbeddedDatabaseModule closes it).
  async onModuleDestroy(): Promise<void> {
    await this.store.close();
  }
}
