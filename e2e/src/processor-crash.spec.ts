import * as fs from 'node:fs';
import * as path from 'node:path';
import { STREAMS } from '@meterstream/contracts';
import { buildOnce, makeTempDir, seededRandom, waitFor } from '@meterstream/test-harness';
import { caughtUp, EmbeddedStreamLogCounter, outputs, readModelState, recordInput, startProcessor, stopGracefully } from '@meterstream/test-harness';

describe('the stream processor under SIGKILL', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeAll(() => buildOnce());
  beforeEach(() => (temp = makeTempDir('meterstream-crash-')));
  afterEach(() => temp.cleanup());

  it('produces, after being killed at random points and restarted, exactly the outputs and read model of an uninterrupted run', async () => {
    const straightDir = path.join(temp.dir, 'straight');
    const crashedDir = path.join(temp.dir, 'crashed');
    fs.mkdirSync(straightDir);
    fs.mkdirSync(crashedDir);
    await recordInput(path.join(straightDir, 'meterstream.db'));
    fs.copyFileSync(path.join(straightDir, 'meterstream.db'), path.join(crashedDir, 'meterstream.db'));

    const straight = startProcessor(straightDir);
    await waitFor(() => caughtUp(path.join(straightDir, 'meterstream.db')), { what: 'the uninterrupted run to finish', timeoutMs: 60_000 });
    await stopGracefully(straight);

    const random = seededRandom(20261129);
    const aggregatesAt = () => new EmbeddedStreamLogCounter(path.join(crashedDir, 'meterstream.db')).count(STREAMS.aggregates);
    const progressAtKill: number[] = [];
    let kills = 0;
    while (!caughtUp(path.join(crashedDir, 'meterstream.db'))) {
      const child = startProcessor(crashedDir);
      if (kills < 6) {
        // Kill once it has made some progress since its restart — mid-run, at a seeded random point.
        const before = aggregatesAt();
        const step = 20 + Math.floor(random() * 130);
        await waitFor(() => aggregatesAt() >= before + step, { what: `${step} more aggregates`, intervalMs: 10, timeoutMs: 60_000 });
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
        kills++;
        progressAtKill.push(aggregatesAt());
      } else {
        await waitFor(() => caughtUp(path.join(crashedDir, 'meterstream.db')), { what: 'the crashed run to finish', timeoutMs: 60_000 });
        await stopGracefully(child);
      }
    }
    expect(kills).toBe(6);
    // The kills really landed mid-run: output grew between them and was not complete at the last one.
    const finalCount = aggregatesAt();
    expect(new Set(progressAtKill).size).toBeGreaterThanOrEqual(3);
    expect(progressAtKill[progressAtKill.length - 1]).toBeLessThan(finalCount);

    const want = outputs(path.join(straightDir, 'meterstream.db'));
    const got = outputs(path.join(crashedDir, 'meterstream.db'));
    expect(Object.keys(want).length).toBeGreaterThan(20);
    expect(Object.keys(want).some((k) => k.startsWith(`${STREAMS.alerts}/`))).toBe(true);
    expect(got).toEqual(want);
    expect(await readModelState(path.join(crashedDir, 'meterstream.db'))).toEqual(await readModelState(path.join(straightDir, 'meterstream.db')));
    // Eight processor runs, each waited for with its own generous timeout: the whole may take longer
    // than jest's default minute on a busy machine (it took 41–61 s here alongside the full suite).
  }, 300_000);
});
