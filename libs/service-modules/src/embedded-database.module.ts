import { Global, Inject, Module, type DynamicModule, type OnModuleDestroy } from '@nestjs/common';
import type Database from 'better-sqlite3';
import type { StreamConfig } from '@meterstream/config';
import { streamConfig } from '@meterstream/config/nest';
import { openEmbeddedDatabase, type EmbeddedDatabaseOptions } from '@meterstream/stream';
import { EMBEDDED_DATABASE } from './tokens';

/**
 * One SQLite handle on DATA_DIR/meterstream.db for every embedded port of the process (the stream
 * processor: its log, read model and checkpoints commit in one transaction on it), or null when
 * STREAM_BACKEND is not embedded. Apps that do not import it (the bridge, the API) get ports that
 * open the file themselves.
 *
 * Global so the port modules see it without knowing whether the app shares a handle; NestJS
 * destroys global modules last, so the handle closes after every port built on it.
 */
@Global()
@Module({})
export class EmbeddedDatabaseModule implements OnModuleDestroy {
  static forRoot(options: Pick<EmbeddedDatabaseOptions, 'synchronous'>): DynamicModule {
    return {
      module: EmbeddedDatabaseModule,
      providers: [
        {
          provide: EMBEDDED_DATABASE,
          useFactory: (config: StreamConfig): Database.Database | null =>
            config.STREAM_BACKEND === 'embedded' ? openEmbeddedDatabase(config.databaseFile, { synchronous: options.synchronous }) : null,
          inject: [streamConfig.KEY],
        },
      ],
      exports: [EMBEDDED_DATABASE],
    };
  }

  constructor(@Inject(EMBEDDED_DATABASE) private readonly db: Database.Database | null) {}

  onModuleDestroy(): void {
    if (this.db?.open) this.db.close();
  }
}
