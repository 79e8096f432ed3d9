import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { loadConfig } from '@meterstream/config';
import { encodeEnvelope, STREAMS } from '@meterstream/contracts';
import { FileModelRegistry } from '@meterstream/model-registry';
import { fitVoltageModel } from '@meterstream/model-training';
import { HOUR, syntheticReadings } from '@meterstream/model-training/testing';
import { createAlertRules, emptyCheckpoint, encodeCheckpoint, resolveProcessorOptions, StreamTopology, type ProcessorOptions } from '@meterstream/processing';
import { EmbeddedStreamLog, SqliteCheckpointStore } from '@meterstream/stream';
import { makeTempDir } from '@meterstream/test-harness';
import { loadRunningModel, parseHeldOutFraction, parseTimeArgument, retrainCommand, type RetrainCommandOptions } from './retrain';

const START = Date.parse('2026-03-02T10:00:00Z');
const NOW = Date.parse('2026-03-02T14:00:00Z');
const PROCESSOR: ProcessorOptions = { windowSizeMs: 60_000, outOfOrdernessMs: 10_000, allowedLatenessMs: 0, idleTimeoutMs: Infinity };

describe('parseTimeArgument', () => {
  it('reads now, times relative to now and ISO-8601', () => {
    expect(parseTimeArgument('--to', 'now', NOW)).toBe(NOW);
    expect(parseTimeArgument('--from', '-6h', NOW)).toBe(NOW - 6 * HOUR);
    expect(parseTimeArgument('--from', '-90m', NOW)).toBe(NOW - 90 * 60_000);
    expect(parseTimeArgument('--from', '-2d', NOW)).toBe(NOW - 48 * HOUR);
    expect(parseTimeArgument('--from', '2026-03-02T10:00:00Z', NOW)).toBe(START);
  });

  it('names the option and the accepted forms when it cannot', () => {
    expect(() => parseTimeArgument('--from', 'yesterday', NOW)).toThrow('--from: "yesterday" is not an ISO-8601 time, "now" or a time relative to now like -6h');
    expect(() => parseTimeArgument('--to', '-6x', NOW)).toThrow(/--to: "-6x"/);
    expect(() => parseTimeArgument('--to', '2026-13-45', NOW)).toThrow(/--to/);
  });
});

describe('parseHeldOutFraction', () => {
  it('takes a fraction strictly between 0 and 1', () => {
    expect(parseHeldOutFraction('0.25')).toBe(0.25);
    for (const bad of ['0', '1', '-0.2', 'a']) expect(() => parseHeldOutFraction(bad)).toThrow(InvalidArgumentError);
  });
});

describe('meterstream retrain', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let config: ReturnType<typeof loadConfig>;
  const options: RetrainCommandOptions = { from: '2026-03-02T10:00:00Z', to: 'now', heldOut: 0.2, publish: false, force: false, json: false };

  beforeEach(async () => {
    temp = makeTempDir('meterstream-cli-retrain-');
    config = loadConfig({ DATA_DIR: temp.dir });
  });
  afterEach(() => temp.cleanup());

  /** Three hours of readings, and a processor checkpoint whose model started from a stale published v1 (fitted on another feeder). */
  async function recordWithStaleProcessor(): Promise<void> {
    const { readings, truth } = syntheticReadings({ seed: 41, lines: 2, metersPerLine: 6, start: START, durationMs: 3 * HOUR, noiseV: 0.2 });
    const log = EmbeddedStreamLog.open(config.databaseFile, { partitions: config.STREAM_PARTITIONS });
    await log.append(STREAMS.readings, readings.map((r) => ({ key: r.lineId, value: encodeEnvelope(r) })));
    // The same meters on a feeder with other offsets: every offset wrong.
    const other = truth.map((line) => ({ ...line, meters: line.meters.map((m, i) => ({ ...m, offsetV: m.offsetV + (i % 2 === 0 ? 0.9 : -0.9) })) }));
    const staleFit = fitVoltageModel(syntheticReadings({ seed: 42, lines: 2, metersPerLine: 6, start: START - 24 * HOUR, durationMs: 2 * HOUR, noiseV: 0.2, truth: other }).readings);
    const { rows: _rows, ...stale } = staleFit;
    const v1 = new FileModelRegistry(config.modelDir).publish(stale);
    const topology = new StreamTopology(PROCESSOR, undefined, createAlertRules(resolveProcessorOptions(PROCESSOR), 'meterstream'));
    topology.installModel(v1);
    // The processor installed v1 recently: it has run over the first 20 minutes since.
    for (const r of readings.filter((r) => r.eventTime < START + 20 * 60_000)) topology.process('0', r, r.eventTime);
    topology.takeOutput();
    const checkpoint = { ...emptyCheckpoint('0'), topology: topology.snapshot() };
    new SqliteCheckpointStore(log.db, () => NOW).saveSync('stream-processor', '0', encodeCheckpoint(checkpoint));
    await log.close();
  }

  it('prints the comparison with the running processor\'s model, and publishes the better model as the next version', async () => {
    await recordWithStaleProcessor();
    const out: string[] = [];
    let progress = '';
    const result = await retrainCommand({ ...options, publish: true }, { out: (l) => out.push(l), progress: (t) => (progress += t), now: () => NOW, config });
    const text = out.join('\n');
    expect(progress).toMatch(/read [\d,]+ readings from the stream, [\d,]+ in range \([\d,]+ readings\/s\)/);
    expect(progress).toContain('8,640 in range, in ');
    expect(text).toContain('retrain: readings with event time 2026-03-02T10:00:00.000Z → 2026-03-02T14:00:00.000Z');
    expect(text).toContain('in range      8,640 readings (0 duplicate deliveries dropped), 2 lines, 12 meters');
    expect(text).toContain('running model (checkpoint, from v1)');
    // The stale v1 is installed as a trained model (no warm-up), so it keeps much of its error.
    expect(text).toMatch(/readings \(MAE\) +0\.1\d\d V +\d\.\d\d\d V/);
    expect(text).toMatch(/^ {2}L01 +[\d,]+ +[\d,]+ +0\.\d{3} V +\d\.\d{3} V$/m);
    expect(text).toMatch(/verdict +the new model is better: \d\.\d{3} V lower error \(\d+\.\d %\)/);
    expect(text).toContain(`published     version 2 to ${config.modelDir}`);
    expect(result.published).toBe(2);
    expect(new FileModelRegistry(config.modelDir).latest()?.version).toBe(2);
  });

  it('prints one JSON document with --json, without the bulky parameters', async () => {
    await recordWithStaleProcessor();
    const out: string[] = [];
    await retrainCommand({ ...options, json: true }, { out: (l) => out.push(l), progress: () => undefined, now: () => NOW, config });
    expect(out).toHaveLength(1);
    const json = JSON.parse(out[0]);
    expect(json).toMatchObject({ verdict: 'better', comparedWith: 'running-model', runningModel: { source: 'checkpoint', version: 1 }, modelDir: config.modelDir });
    expect(json.newModelMae).toBeLessThan(json.runningModelMae);
    expect(json.trainedOn.readings + json.heldOut.readings).toBe(json.readings);
    expect(json).not.toHaveProperty('model');
    expect(json).not.toHaveProperty('published');
  });

  it('compares with the newest published model when the processor has no checkpoint, and with nothing when there is none', async () => {
    const registry = new FileModelRegistry(config.modelDir);
    fs.mkdirSync(temp.dir, { recursive: true });
    EmbeddedStreamLog.open(config.databaseFile, { partitions: 8 }).db.close();
    expect(loadRunningModel(config, registry)).toEqual({ kind: 'none', version: 0, lines: null });
    registry.publish({ createdAt: '', trainedOn: { from: 0, to: 1 }, lines: {} });
    expect(loadRunningModel(config, registry)).toMatchObject({ kind: 'registry', version: 1, lines: {} });
  });

  it('fails clearly on a bad date, an empty range, a missing database and a range without readings', async () => {
    const io = { out: () => undefined, progress: () => undefined, now: () => NOW, config };
    await expect(retrainCommand({ ...options, from: 'last tuesday' }, io)).rejects.toThrow('--from: "last tuesday" is not an ISO-8601 time');
    await expect(retrainCommand({ ...options, from: '-1h', to: '-2h' }, io)).rejects.toThrow(/empty range: --from \(2026-03-02T13:00:00.000Z\) must be before --to/);
    await expect(retrainCommand(options, io)).rejects.toThrow(`no embedded database at ${path.join(temp.dir, 'meterstream.db')}`);
    await recordWithStaleProcessor();
    await expect(retrainCommand({ ...options, from: '-30d', to: '-20d' }, io)).rejects.toThrow(/no readings with event time in/);
  });
});
