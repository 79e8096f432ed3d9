import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { KafkaStreamLog } from './kafka';
import { assertKafkaReachable, collectingLogger, testBrokers, uniqueTopicPrefix } from './kafka/testing/kafka-test-env';
import type { StreamRecord } from './stream-log';

const ROOT = path.resolve(__dirname, '../../..');
const run = promisify(execFile);

/** Stops or starts the broker with the engine script (data is kept across the stop). */
async function kafkaScript(...args: string[]): Promise<void> {
  try {
    await run('bash', [path.join(ROOT, 'scripts/engines/kafka.sh'), ...args], { cwd: ROOT, timeout: 180_000 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`scripts/engines/kafka.sh ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

describe('KafkaStreamLog across a broker restart', () => {
  const prefix = uniqueTopicPrefix('restart');
  const logger = collectingLogger();
  let log: KafkaStreamLog;

  beforeAll(async () => {
    await assertKafkaReachable();
    log = new KafkaStreamLog({ brokers: testBrokers(), clientId: 'restart-spec', topicPrefix: prefix, partitions: 3, logger });
  });

  afterAll(async () => {
    // Whatever happened, leave a running broker for the suites after this one.
    await kafkaScript();
    await log.close();
  });

  it('completes appends that were in flight while the broker restarted, losing and duplicating nothing', async () => {
    try {
      await appendAcrossRestart();
    } catch (error) {
      // What kafkajs went through is the first thing to look at when this fails.
      throw new Error(`${(error as Error).message}\n\nkafkajs said:\n${logger.messages.join('\n')}`, { cause: error });
    }
  });

  async function appendAcrossRestart(): Promise<void> {
    const appends = 120;
    const perAppend = 25;
    const keys = ['L01', 'L02', 'L03', 'L04', 'L05', 'L06'];
    // A reader connection and a group member that both exist before the restart and must recover.
    await log.append('readings', [{ key: 'L00', value: Buffer.from('before') }]);
    const firstRead = await log.read('readings', '0', null, 10);
    const member = await log.joinGroup(`${prefix}group`, 'readings', { assigned: async () => undefined, revoked: async () => undefined });
    expect(member.owned()).toEqual(['0', '1', '2']);
    let done = 0;
    const appending = (async () => {
      for (let a = 0; a < appends; a++) {
        await log.append(
          'readings',
          Array.from({ length: perAppend }, (_, i) => ({ key: keys[(a + i) % keys.length], value: Buffer.from(`${a}:${i}`) })),
        );
        done++;
        // Spread the appends over the restart rather than finishing before the broker stops.
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
    })();
    const restarting = (async () => {
      while (done < 10) await new Promise((resolve) => setTimeout(resolve, 20));
      await kafkaScript('stop');
      const stoppedAt = done;
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await kafkaScript();
      return stoppedAt;
    })();
    const [, stoppedAt] = await Promise.all([appending, restarting]);
    // The restart happened mid-stream, not before or after every append.
    expect(stoppedAt).toBeGreaterThanOrEqual(10);
    expect(stoppedAt).toBeLessThan(appends);

    const records: StreamRecord[] = [];
    for (const partition of await log.partitions('readings')) {
      let after: string | null = null;
      for (;;) {
        const batch = await log.read('readings', partition, after, 500);
        if (batch.length === 0) break;
        records.push(...batch);
        after = batch[batch.length - 1].position;
      }
    }
    expect(records.slice(0, firstRead.length)).toEqual(firstRead);
    const values = records.map((r) => r.value.toString()).filter((v) => v !== 'before');
    expect(new Set(values).size).toBe(values.length); // no duplicates
    expect(values).toHaveLength(appends * perAppend); // nothing lost
    // Per-key order survived the retries.
    for (const key of keys) {
      const seq = records.filter((r) => r.key === key).map((r) => r.value.toString().split(':').map(Number));
      const ordered = [...seq].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
      expect(seq).toEqual(ordered);
    }

    // The member rejoined by itself: it still owns every partition and can commit as a member.
    await log.commit(`${prefix}group`, 'readings', new Map([['0', '0']]));
    expect(await log.committed(`${prefix}group`, 'readings')).toEqual(new Map([['0', '0']]));
    expect(member.owned()).toEqual(['0', '1', '2']);
    await member.leave();
  }
});
