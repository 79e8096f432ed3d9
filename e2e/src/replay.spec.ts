import { execFileSync, spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { STREAMS } from '@meterstream/contracts';
import { buildOnce, makeTempDir, waitFor } from '@meterstream/test-harness';
import { caughtUp, outputs, readModelState, recordInput, ROOT, startProcessor, stopGracefully } from '@meterstream/test-harness';

describe('replay (`meterstream replay`)', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeAll(() => buildOnce());
  beforeEach(() => (temp = makeTempDir('meterstream-replay-')));
  afterEach(() => temp.cleanup());

  it('rebuilds from the start of readings exactly the read model and outputs the live processor built', async () => {
    const file = path.join(temp.dir, 'meterstream.db');
    await recordInput(file);
    const processor = startProcessor(temp.dir);
    await waitFor(() => caughtUp(file), { what: 'the live processor to finish', timeoutMs: 60_000 });
    await stopGracefully(processor);
    const liveOutputs = outputs(file);
    const liveModel = await readModelState(file);
    expect(liveModel.lines.length).toBe(20);
    expect(liveModel.alerts.length).toBeGreaterThan(0);

    // Damage the derived state, as a bad deploy might: only a real rebuild brings it back.
    const db = new Database(file);
    db.exec("DELETE FROM rm_aggregates; DELETE FROM rm_lines; DELETE FROM log_batches WHERE stream = 'alerts'");
    db.close();
    expect((await readModelState(file)).lines).toEqual([]);

    const printed = execFileSync(process.execPath, [path.join(ROOT, 'dist/apps/cli/src/main.js'), 'replay'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: temp.dir, IDLE_TIMEOUT_MS: String(24 * 3_600_000) },
      encoding: 'utf8',
    });
    expect(printed).toContain('replay: done');
    expect(fs.existsSync(file)).toBe(true);

    expect(outputs(file)).toEqual(liveOutputs);
    expect(await readModelState(file)).toEqual(liveModel);
    expect(Object.keys(liveOutputs).some((k) => k.startsWith(`${STREAMS.aggregates}/`))).toBe(true);
    // A processor run to its end and a replay: minutes on a busy machine, beyond jest's default minute.
  }, 300_000);

  const replay = (dataDir: string) =>
    spawnSync(process.execPath, [path.join(ROOT, 'dist/apps/cli/src/main.js'), 'replay'], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir }, encoding: 'utf8' });

  it('refuses while a stream processor runs on the data, naming it, and clears nothing', async () => {
    const file = path.join(temp.dir, 'meterstream.db');
    await recordInput(file);
    const processor = startProcessor(temp.dir);
    try {
      await waitFor(() => caughtUp(file), { what: 'the live processor to finish', timeoutMs: 60_000 });
      const before = outputs(file);
      const refused = replay(temp.dir);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toContain(`held by process ${processor.pid}`);
      expect(refused.stderr).toContain('stop it first');
      expect(outputs(file)).toEqual(before);
    } finally {
      await stopGracefully(processor);
    }
    // Stopped, it leaves the group: now the replay runs.
    const done = replay(temp.dir);
    expect([done.status, done.stdout]).toEqual([0, expect.stringContaining('replay: done')]);
  }, 300_000);

  it('says there is no data in a data directory without any, and creates nothing', () => {
    const empty = path.join(temp.dir, 'nothing-here');
    const result = replay(empty);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('there is no data to replay');
    expect(fs.existsSync(empty)).toBe(false);
  });
});
