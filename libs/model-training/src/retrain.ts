import { decodeEnvelope, STREAMS, type ReadingEnvelope } from '@meterstream/contracts';
import type { FileModelRegistry } from '@meterstream/model-registry';
import type { VoltageModelVersion } from '@meterstream/processing';
import type { StreamLog } from '@meterstream/stream';
import { fitVoltageModel, type BatchFitOptions, type LineFitRows } from './batch-fit';
import { heldOutError } from './held-out';

/** A mistake in what was asked (bad range, no data): the CLI prints its message alone. */
export class RetrainError extends Error {}

export interface RetrainProgress {
  phase: 'reading' | 'fitting' | 'evaluating' | 'done';
  /** Records read from the readings stream so far (all event times). */
  records: number;
  /** Distinct readings with event time in the range so far. */
  readings: number;
  elapsedMs: number;
}

export interface RetrainOptions {
  /** Any stream adapter: only the async port is used. */
  log: StreamLog;
  /** Event-time range of the readings to use, epoch ms, [from, to). */
  from: number;
  to: number;
  /** The last fraction of the readings' time span is held out for evaluation; default 0.2. */
  heldOutFraction?: number;
  registry: Pick<FileModelRegistry, 'publish'>;
  /** The model to beat (the running processor's); null: a model learning online from scratch. */
  runningModel: VoltageModelVersion['lines'] | null;
  publish: boolean;
  /** Publish even when the new model is not better on the held-out readings. */
  force?: boolean;
  onProgress?: (progress: RetrainProgress) => void;
  /** Records per read call; default 5000. */
  pageSize?: number;
  fit?: Omit<BatchFitOptions, 'trainedOn' | 'createdAt'>;
  /** Wall clock (createdAt of the model, progress timing); injectable for tests. */
  now?: () => number;
}

export interface LineRetrainResult {
  lineId: string;
  rows: LineFitRows | null;
  heldOutReadings: number;
  newModelMae: number;
  runningModelMae: number;
}

export interface RetrainResult {
  range: { from: number; to: number };
  /** Distinct readings in the range (duplicate deliveries counted once, as the processor does). */
  readings: number;
  duplicates: number;
  lines: number;
  meters: number;
  trainedOn: { from: number; to: number; readings: number };
  heldOut: { from: number; to: number; readings: number };
  /** Held-out mean absolute error of the new model (V), scored as the processor would have. */
  newModelMae: number;
  /** The same for the model it would replace. */
  runningModelMae: number;
  comparedWith: 'running-model' | 'online-from-scratch';
  /** runningModelMae − newModelMae (V): positive when the new model is better. */
  improvement: number;
  verdict: 'better' | 'worse' | 'equal';
  /** Line windows against the line baseline on the held-out readings (V). */
  baselineMae: { newModel: number; runningModel: number };
  /** Model-based alerts each would have raised on the held-out readings (from the readings alone). */
  alertsRaised: { newModel: number; runningModel: number };
  perLine: LineRetrainResult[];
  /** The version published, when it was. */
  published?: number;
  /** Why a requested publication did not happen. */
  notPublished?: string;
  /** The fitted model (also when not published). */
  model: Omit<VoltageModelVersion, 'version'>;
}

const DEFAULT_HELD_OUT = 0.2;

/**
 * Retrains the voltage model from the readings stream: reads every partition of `readings` for
 * event times in [from, to) (duplicates dropped by event id), orders each line's readings by
 * (event time, deviceId), holds out the last `heldOutFraction` of their time span, fits a model
 * on the rest (fitVoltageModel), and scores the new and the running model on the held-out
 * readings exactly as the processor would have run them (heldOutError). Publishes to the
 * registry only when asked, and only a better model unless `force`.
 *
 * Note: the running model may already have learned from the held-out readings (the processor
 * ran over them); the comparison is biased in its favour, never in the new model's.
 */
export async function retrain(options: RetrainOptions): Promise<RetrainResult> {
  const now = options.now ?? Date.now;
  const started = now();
  const heldOutFraction = options.heldOutFraction ?? DEFAULT_HELD_OUT;
  const { from, to } = options;
  if (!Number.isFinite(from) || !Number.isFinite(to)) throw new RetrainError('the range needs a finite start and end');
  if (!(from < to)) throw new RetrainError(`empty range: the start (${iso(from)}) must be before the end (${iso(to)})`);
  if (!(heldOutFraction > 0 && heldOutFraction < 1)) throw new RetrainError(`the held-out fraction must be between 0 and 1 (exclusive), got ${heldOutFraction}`);

  const progress = (phase: RetrainProgress['phase'], records: number, readings: number) => options.onProgress?.({ phase, records, readings, elapsedMs: now() - started });
  const { byLine, records, duplicates, readings } = await readRange(options.log, from, to, options.pageSize ?? 5000, Date.now(), (r, n) => progress('reading', r, n));
  if (readings === 0) throw new RetrainError(`no readings with event time in [${iso(from)}, ${iso(to)}) (${records.toLocaleString('en-US')} records on the ${STREAMS.readings} stream)`);

  let first = Infinity;
  let last = -Infinity;
  const meters = new Set<string>();
  for (const list of byLine.values()) {
    list.sort(byEventTimeThenDevice);
    first = Math.min(first, list[0].eventTime);
    last = Math.max(last, list[list.length - 1].eventTime);
    for (const r of list) meters.add(r.deviceId ?? r.body.deviceId);
  }
  // Split the time the readings actually span, not the requested range (it may be mostly empty).
  const cut = first + Math.floor((1 - heldOutFraction) * (last + 1 - first));
  const lineIds = [...byLine.keys()].sort();
  const train: ReadingEnvelope[] = [];
  const heldOut: ReadingEnvelope[] = [];
  for (const lineId of lineIds) for (const r of byLine.get(lineId)!) (r.eventTime < cut ? train : heldOut).push(r);
  if (train.length === 0 || heldOut.length === 0) {
    throw new RetrainError(`the ${readings} readings span too little time (${iso(first)} to ${iso(last)}) to hold out the last ${heldOutFraction * 100} % of it`);
  }

  progress('fitting', records, readings);
  const fit = fitVoltageModel(train, { ...options.fit, trainedOn: { from: first, to: cut }, createdAt: new Date(now()).toISOString() });
  const { rows, ...model } = fit;
  progress('evaluating', records, readings);
  const fresh = heldOutError(model.lines, heldOut, { modelOptions: options.fit?.modelOptions, windowSizeMs: options.fit?.windowSizeMs });
  const running = heldOutError(options.runningModel, heldOut, { modelOptions: options.fit?.modelOptions, windowSizeMs: options.fit?.windowSizeMs });
  const improvement = running.mae - fresh.mae;
  const verdict = Math.abs(improvement) < 1e-9 ? 'equal' : improvement > 0 ? 'better' : 'worse';

  const result: RetrainResult = {
    range: { from, to },
    readings,
    duplicates,
    lines: lineIds.length,
    meters: meters.size,
    trainedOn: { from: first, to: cut, readings: train.length },
    heldOut: { from: cut, to: last + 1, readings: heldOut.length },
    newModelMae: fresh.mae,
    runningModelMae: running.mae,
    comparedWith: options.runningModel === null ? 'online-from-scratch' : 'running-model',
    improvement,
    verdict,
    baselineMae: { newModel: fresh.baselineMae, runningModel: running.baselineMae },
    alertsRaised: { newModel: fresh.alertsRaised, runningModel: running.alertsRaised },
    perLine: lineIds.map((lineId) => ({
      lineId,
      rows: rows[lineId] ?? null,
      heldOutReadings: fresh.lines[lineId]?.count ?? 0,
      newModelMae: fresh.lines[lineId]?.mae ?? NaN,
      runningModelMae: running.lines[lineId]?.mae ?? NaN,
    })),
    model: { ...model, heldOutMae: fresh.mae },
  };
  if (options.publish) {
    if (verdict === 'better' || options.force) {
      result.published = options.registry.publish(result.model).version;
    } else {
      result.notPublished =
        `the new model is ${verdict === 'equal' ? 'no better than' : 'worse than'} the ${result.comparedWith === 'running-model' ? 'running model' : 'online model'} on the held-out readings ` +
        `(MAE ${fresh.mae.toFixed(3)} V vs ${running.mae.toFixed(3)} V); publish it anyway with force`;
    }
  }
  progress('done', records, readings);
  return result;
}

interface RangeContents {
  byLine: Map<string, ReadingEnvelope[]>;
  records: number;
  duplicates: number;
  readings: number;
}

/**
 * Every reading of the stream with event time in [from, to), by line. Scans each partition to
 * its end: the port has no time index. On a live stream a partition ends at its first record
 * appended after the scan started, so the scan always terminates.
 */
async function readRange(log: StreamLog, from: number, to: number, pageSize: number, scanStartedAt: number, onPage: (records: number, readings: number) => void): Promise<RangeContents> {
  const byLine = new Map<string, ReadingEnvelope[]>();
  const seen = new Set<string>();
  let records = 0;
  let duplicates = 0;
  for (const partition of await log.partitions(STREAMS.readings)) {
    let after: string | null = null;
    for (;;) {
      const page = await log.read(STREAMS.readings, partition, after, pageSize);
      if (page.length === 0) break;
      after = page[page.length - 1].position;
      let live = false;
      for (const record of page) {
        if (record.appendTime > scanStartedAt) {
          live = true;
          break;
        }
        records++;
        const envelope = decodeEnvelope<ReadingEnvelope>(record.value);
        if (envelope.type !== 'reading' || envelope.eventTime < from || envelope.eventTime >= to) continue;
        if (seen.has(envelope.id)) {
          duplicates++;
          continue;
        }
        seen.add(envelope.id);
        let list = byLine.get(envelope.lineId);
        if (list === undefined) byLine.set(envelope.lineId, (list = []));
        list.push(slim(envelope));
      }
      onPage(records, seen.size);
      if (live) break;
    }
  }
  return { byLine, records, duplicates, readings: seen.size };
}

/** Only what the model reads: a long range holds millions of readings. */
function slim(r: ReadingEnvelope): ReadingEnvelope {
  const { deviceId, lineId, ts, voltage, kw } = r.body;
  return { ...r, body: kw === undefined ? { deviceId, lineId, ts, voltage } : { deviceId, lineId, ts, voltage, kw } };
}

function byEventTimeThenDevice(a: ReadingEnvelope, b: ReadingEnvelope): number {
  if (a.eventTime !== b.eventTime) return a.eventTime - b.eventTime;
  const da = a.deviceId ?? a.body.deviceId;
  const db = b.deviceId ?? b.body.deviceId;
  return da < db ? -1 : da > db ? 1 : 0;
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
