import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { buildOnce, makeTempDir } from '@meterstream/test-harness';
import { openEmbeddedDatabase } from './embedded';
import { SqliteCheckpointStore } from './sqlite-checkpoint-store';

const ROOT = path.resolve(__dirname, '../../..');

/** Runs `script` in its own Node process (from ROOT, so it can require dist/) and resolves on exit 0. */
function runNode(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited with ${code}: ${stderr}`))));
  });
}

describe('SqliteCheckpointStore', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let file: string;
  beforeEach(() => {
    temp = makeTempDir();
    file = path.join(temp.dir, 'checkpoints.db');
  });
  afterEach(() => temp.cleanup());

  it('returns null for a partition never checkpointed and the newest save afterwards', async () => {
    const store = SqliteCheckpointStore.open(file);
    expect(await store.load('processor', '0')).toBeNull();
    await store.save('processor', '0', '{"position":"1.0"}');
    await store.save('processor', '0', '{"position":"7.3"}');
    expect(await store.load('processor', '0')).toBe('{"position":"7.3"}');
    await store.close();
  });

  it('keeps groups and partitions apart', async () => {
    const store = SqliteCheckpointStore.open(file);
    await store.save('processor', '0', 'p0');
    await store.save('processor', '1', 'p1');
    await store.save('backtest', '0', 'b0');
    expect(await store.load('processor', '0')).toBe('p0');
    expect(await store.load('processor', '1')).toBe('p1');
    expect(await store.load('backtest', '0')).toBe('b0');
    expect(await store.load('backtest', '1')).toBeNull();
    await store.close();
  });

  it('survives a reopen, and leaves a handle it did not open to its owner', async () => {
    const first = SqliteCheckpointStore.open(file);
    await first.save('processor', 'shardId-000000000001', 'state');
    await first.close();

    const db = openEmbeddedDatabase(file);
    const reopened = new SqliteCheckpointStore(db);
    expect(await reopened.load('processor', 'shardId-000000000001')).toBe('state');
    await reopened.close();
    expect(db.open).toBe(true);
    db.close();
  });

  it('is shared by several processes on one host: concurrent saves neither fail nor tear', async () => {
    buildOnce();
    const writer = (member: string) => `
      const { SqliteCheckpointStore } = require('./dist/libs/stream/src/sqlite-checkpoint-store.js');
      const store = SqliteCheckpointStore.open(${JSON.stringify(file)});
      (async () => {
        for (let i = 0; i < 300; i++) {
          // Its own partition, and one partition both write (the newest save wins there).
          await store.save('processor', ${JSON.stringify(member)}, JSON.stringify({ member: ${JSON.stringify(member)}, i }));
          await store.save('processor', 'shared', JSON.stringify({ member: ${JSON.stringify(member)}, i, pad: 'x'.repeat(4096) }));
        }
        await store.close();
      })().catch((err) => { console.error(err); process.exit(1); });`;
    const reader = SqliteCheckpointStore.open(file);
    let reads = 0;
    let polling = true;
    // Reads while both write: every value seen is one whole checkpoint (WAL readers see committed rows only).
    const poll = (async () => {
      while (polling) {
        const text = await reader.load('processor', 'shared');
        if (text !== null) {
          expect(JSON.parse(text)).toMatchObject({ member: expect.stringMatching(/^[ab]$/), i: expect.any(Number) });
          reads++;
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    await Promise.all([runNode(writer('a')), runNode(writer('b'))]);
    polling = false;
    await poll;

    expect(JSON.parse((await reader.load('processor', 'a'))!)).toEqual({ member: 'a', i: 299 });
    expect(JSON.parse((await reader.load('processor', 'b'))!)).toEqual({ member: 'b', i: 299 });
    expect(JSON.parse((await reader.load('processor', 'shared'))!)).toMatchObject({ i: 299 });
    expect(reads).toBeGreaterThan(0);
    await reader.close();
  });
});
