import { buildOnce, makeTempDir } from '@meterstream/test-harness';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { EmbeddedStreamLog, openEmbeddedDatabase } from './embedded';
import { partitionForKey } from './partitioner';

const rec = (key: string, text: string) => ({ key, value: Buffer.from(text) });

describe('EmbeddedStreamLog', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let file: string;
  beforeEach(() => {
    temp = makeTempDir();
    file = path.join(temp.dir, 'log.db');
  });
  afterEach(() => temp.cleanup());

  it('keeps per-key order inside the key’s partition with increasing positions', async () => {
    const log = EmbeddedStreamLog.open(file, { partitions: 4 });
    await log.append('readings', [rec('L01', 'a1'), rec('L02', 'b1'), rec('L01', 'a2')]);
    await log.append('readings', [rec('L01', 'a3')]);
    const partition = String(partitionForKey('L01', 4));
    const records = (await log.read('readings', partition, null, 100)).filter((r) => r.key === 'L01');
    expect(records.map((r) => r.value.toString())).toEqual(['a1', 'a2', 'a3']);
    const positions = records.map((r) => Number(r.position));
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(new Set(positions).size).toBe(3);
    expect(await log.partitions('readings')).toEqual(['0', '1', '2', '3']);
    await log.close();
  });

  it('reads strictly after a position, in pages', async () => {
    const log = EmbeddedStreamLog.open(file, { partitions: 1 });
    await log.append('s', Array.from({ length: 10 }, (_, i) => rec('k', `v${i}`)));
    const first = await log.read('s', '0', null, 4);
    const second = await log.read('s', '0', first[3].position, 4);
    const rest = await log.read('s', '0', second[3].position, 100);
    expect([...first, ...second, ...rest].map((r) => r.value.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
    expect(await log.read('s', '0', rest[rest.length - 1].position, 100)).toEqual([]);
    await log.close();
  });

  it('pages through many small batches and resumes mid-batch', async () => {
    const log = EmbeddedStreamLog.open(file, { partitions: 1 });
    for (let i = 0; i < 100; i++) await log.append('s', [rec('k', `a${i}`), rec('k', `b${i}`)]);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await log.read('s', '0', after, 3); // 3 splits every batch of 2 somewhere
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(3);
      seen.push(...page.map((r) => r.value.toString()));
      after = page[page.length - 1].position;
    }
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => [`a${i}`, `b${i}`]).flat());
    expect(log.countSync('s')).toBe(200);
    await log.close();
  });

  it('counts the records after a position (the consumer lag), across and inside batches', async () => {
    const log = EmbeddedStreamLog.open(file, { partitions: 1 });
    expect(await log.backlog('s', '0', null)).toBe(0);
    await log.append('s', Array.from({ length: 5 }, (_, i) => rec('k', `a${i}`)));
    await log.append('s', Array.from({ length: 3 }, (_, i) => rec('k', `b${i}`)));
    const all = await log.read('s', '0', null, 100);
    expect(await log.backlog('s', '0', null)).toBe(8);
    expect(await Promise.all(all.map((r) => log.backlog('s', '0', r.position)))).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
    await log.close();
  });

  it('keeps streams apart', async () => {
    const log = EmbeddedStreamLog.open(file, { partitions: 1 });
    await log.append('readings', [rec('k', 'r')]);
    await log.append('alerts', [rec('k', 'a')]);
    expect((await log.read('readings', '0', null, 10)).map((r) => r.value.toString())).toEqual(['r']);
    expect((await log.read('alerts', '0', null, 10)).map((r) => r.value.toString())).toEqual(['a']);
    await log.close();
  });

  it('persists records and committed positions across reopen, and keeps a stream’s partition count', async () => {
    const first = EmbeddedStreamLog.open(file, { partitions: 3 });
    await first.append('readings', [rec('L01', 'x')]);
    const [record] = await first.read('readings', String(partitionForKey('L01', 3)), null, 1);
    await first.commit('processor', 'readings', new Map([[record.partition, record.position]]));
    await first.close();

    const reopened = EmbeddedStreamLog.open(file, { partitions: 8 });
    expect(await reopened.partitions('readings')).toHaveLength(3);
    expect(await reopened.committed('processor', 'readings')).toEqual(new Map([[record.partition, record.position]]));
    expect(reopened.countSync('readings')).toBe(1);
    await reopened.close();
  });

  it('accepts appends from another process on the same file', async () => {
    const log = EmbeddedStreamLog.open(file, { partitions: 1 });
    await log.append('s', [rec('k', 'from-test')]);
    // A second OS process appends through its own handle, as the bridge does beside the processor.
    buildOnce();
    const script = `
      const { EmbeddedStreamLog } = require('./dist/libs/stream/src/embedded.js');
      const log = EmbeddedStreamLog.open(${JSON.stringify(file)}, { partitions: 1 });
      log.append('s', [{ key: 'k', value: Buffer.from('from-child') }]).then(() => log.close());`;
    execFileSync(process.execPath, ['-e', script], { cwd: path.resolve(__dirname, '../../..') });
    const values = (await log.read('s', '0', null, 10)).map((r) => r.value.toString());
    expect(values).toEqual(['from-test', 'from-child']);
    await log.close();
  });

  it('prunes only records appended before the retention cutoff', async () => {
    const db = openEmbeddedDatabase(file);
    const log = new EmbeddedStreamLog(db, { partitions: 1 });
    db.transaction(() => {
      log.appendSync('s', [rec('k', 'old1'), rec('k', 'old2')], 1_000);
      log.appendSync('s', [rec('k', 'new')], 5_000);
    })();
    expect(log.pruneSync(2_000, 1)).toBe(2);
    expect((await log.read('s', '0', null, 10)).map((r) => r.value.toString())).toEqual(['new']);
    await log.close();
  });
});
