import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Inject, Injectable, Module, type OnModuleDestroy } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type Database from 'better-sqlite3';
import { readModelConfig, serviceConfigModule, streamConfig, timeSeriesConfig } from '@meterstream/config/nest';
import { SqliteReadModel, type ReadModel } from '@meterstream/read-model';
import { EmbeddedStreamLog, type StreamLog } from '@meterstream/stream';
import { CHECKPOINT_STORE, EMBEDDED_DATABASE, EmbeddedDatabaseModule, READ_MODEL, ReadModelModule, STREAM_LOG, StreamLogModule, TIME_SERIES_SINK, TimeSeriesModule } from './index';

/** Records whether the ports were still open when its module (which imports theirs) was destroyed. */
@Injectable()
class PortUser implements OnModuleDestroy {
  static seenOpenAtDestroy: boolean | undefined;
  constructor(@Inject(STREAM_LOG) private readonly log: StreamLog) {}
  async onModuleDestroy(): Promise<void> {
    PortUser.seenOpenAtDestroy = (await this.log.partitions('readings').then(() => true).catch(() => false)) as boolean;
  }
}

@Module({ imports: [StreamLogModule.register({ positions: 'checkpoint-store' }), ReadModelModule, TimeSeriesModule], providers: [PortUser] })
class UserModule {}

describe('service modules', () => {
  let dir: string;
  const saved = { ...process.env };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterstream-service-modules-'));
    process.env = { ...saved, DATA_DIR: dir };
    PortUser.seenOpenAtDestroy = undefined;
  });
  afterEach(() => {
    process.env = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('with the shared embedded database: the log, read model and checkpoints on one handle, closed after every user', async () => {
    @Module({ imports: [serviceConfigModule([streamConfig, readModelConfig, timeSeriesConfig]), EmbeddedDatabaseModule.forRoot({ synchronous: 'normal' }), UserModule] })
    class App {}
    const app = await NestFactory.createApplicationContext(App, { logger: false });
    const db = app.get<Database.Database>(EMBEDDED_DATABASE);
    expect(db.name).toBe(path.join(dir, 'meterstream.db'));
    expect(app.get(STREAM_LOG)).toBeInstanceOf(EmbeddedStreamLog);
    expect(app.get(READ_MODEL)).toBeInstanceOf(SqliteReadModel);
    expect(app.get(CHECKPOINT_STORE)).toBeDefined();
    expect(app.get(TIME_SERIES_SINK)).toBeNull();
    await app.close();
    expect(PortUser.seenOpenAtDestroy).toBe(true);
    expect(db.open).toBe(false);
  });

  it('without it: each port opens and closes what it needs', async () => {
    @Module({ imports: [serviceConfigModule([streamConfig, readModelConfig]), StreamLogModule.register(), ReadModelModule] })
    class App {}
    const app = await NestFactory.createApplicationContext(App, { logger: false });
    const log = app.get<StreamLog>(STREAM_LOG);
    const readModel = app.get<ReadModel>(READ_MODEL);
    await log.append('readings', [{ key: 'L01', value: Buffer.from('{}') }]);
    expect(await readModel.lines()).toEqual([]);
    expect(() => app.get(EMBEDDED_DATABASE)).toThrow();
    await app.close();
    await expect(log.append('readings', [{ key: 'L01', value: Buffer.from('{}') }])).rejects.toThrow();
  });

  it('an invalid variable fails the start, naming it', async () => {
    process.env.STREAM_PARTITIONS = 'many';
    @Module({ imports: [serviceConfigModule([streamConfig]), StreamLogModule.register()] })
    class App {}
    await expect(NestFactory.createApplicationContext(App, { logger: false, abortOnError: false })).rejects.toThrow(/STREAM_PARTITIONS: /);
  });
});
