import { Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import type Database from 'better-sqlite3';
import type { ReadModelConfig } from '@meterstream/config';
import { readModelConfig } from '@meterstream/config/nest';
import { createReadModel, SqliteReadModel, type ReadModel } from '@meterstream/read-model';
import { OPTIONAL_EMBEDDED_DATABASE, READ_MODEL } from './tokens';

/**
 * The read model (createReadModel, namespace `readModel`: SQLite in DATA_DIR, or Elasticsearch,
 * required lazily, its indices installed before start-up goes on). On the shared embedded
 * database it is SQLite on that handle, so the processor's transaction covers it.
 */
@Module({
  providers: [
    {
      provide: READ_MODEL,
      useFactory: (config: ReadModelConfig, db?: Database.Database | null): Promise<ReadModel> | ReadModel => (db ? new SqliteReadModel(db) : createReadModel(config)),
      inject: [readModelConfig.KEY, OPTIONAL_EMBEDDED_DATABASE],
    },
  ],
  exports: [READ_MODEL],
})
export class ReadModelModule implements OnModuleDestroy {
  constructor(@Inject(READ_MODEL) private readonly readModel: ReadModel) {}

  // A model on the shared handle leaves it open.
  async onModuleDestroy(): Promise<void> {
    await this.readModel.close();
  }
}
