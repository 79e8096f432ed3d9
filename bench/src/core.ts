import { decodeEnvelope, encodeEnvelope, parseReading, type ReadingEnvelope } from '@meterstream/contracts';
import { StreamTopology, createAlertRules, resolveProcessorOptions, type AlertRule, type ProcessorOptions } from '@meterstream/processing';
import { partitionForKey } from '@meterstream/stream';

const OPTIONS: ProcessorOptions = { windowSizeMs: 60_000, outOfOrdernessMs: 10_000, allowedLatenessMs: 0, idleTimeoutMs: Infinity };

/** The readings as the processor finds them in the log: encoded envelopes. */
export function recordedLog(messages: { topic: string; payload: Buffer }[]): Buffer[] {
  return messages.map((m) => {
    const parsed = parseReading(m.topic, m.payload, { ingestTime: 0, maxFutureSkewMs: Number.MAX_SAFE_INTEGER });
    if (!parsed.ok) throw new Error(`workload reading rejected: ${JSON.stringify(parsed.errors)}`);
    return encodeEnvelope(parsed.envelope);
  });
}

/** meterstream's full rule set: ANSI limits, the online voltage model and its detectors, meter health. */
const withModel = () => createAlertRules(resolveProcessorOptions(OPTIONS), 'meterstream');

function run(log: Buffer[], upTo = log.length, rules?: () => AlertRule[]): StreamTopology {
  const topology = new StreamTopology(OPTIONS, undefined, rules?.());
  // The runtime knows each record's partition from the log; here it is looked up once per line.
  const partitions = new Map<string, string>();
  for (let i = 0; i < upTo; i++) {
    const envelope = decodeEnvelope<ReadingEnvelope>(log[i]);
    let partition = partitions.get(envelope.lineId);
    if (partition === undefined) partitions.set(envelope.lineId, (partition = String(partitionForKey(envelope.lineId, 8))));
    topology.process(partition, envelope, 0);
    if ((i & 2047) === 2047) topology.takeOutput();
  }
  topology.takeOutput();
  return topology;
}

/**
 * The processing core alone, on one core: decode each envelope, window it, run the rules — no
 * I/O, next to the bare JSON.parse of the same bytes.
 */
export function measureCore(log: Buffer[]): { eventsPerSec: number; jsonParsePerSec: number } {
  // Rounds alternate between the two so both see the same (shared, noisy) machine; best of seven.
  let parseSeconds = Infinity;
  let coreSeconds = Infinity;
  let sink = 0;
  const timed = (work: () => void) => {
    const t = process.hrtime.bigint();
    work();
    return Number(process.hrtime.bigint() - t) / 1e9;
  };
  for (let round = 0; round < 7; round++) {
    parseSeconds = Math.min(
      parseSeconds,
      timed(() => {
        for (const bytes of log) sink += (JSON.parse(bytes.toString('utf8')) as { eventTime: number }).eventTime;
      }),
    );
    coreSeconds = Math.min(
      coreSeconds,
      timed(() => {
        sink += run(log).stats().openWindows;
      }),
    );
  }
  if (sink === 0) throw new Error('unreachable: keeps the loops from being optimised away');
  return { eventsPerSec: Math.round(log.length / coreSeconds), jsonParsePerSec: Math.round(log.length / parseSeconds) };
}

/**
 * What the voltage model costs: the core with the ANSI limit rule alone next to the core with
 * meterstream's full rule set (the model scores and learns from every reading), rounds alternating.
 */
export function measureModelCost(log: Buffer[]): { withoutModelPerSec: number; withModelPerSec: number; modelMicrosPerReading: number } {
  let without = Infinity;
  let withIt = Infinity;
  let sink = 0;
  const timed = (work: () => void) => {
    const t = process.hrtime.bigint();
    work();
    return Number(process.hrtime.bigint() - t) / 1e9;
  };
  for (let round = 0; round < 5; round++) {
    without = Math.min(without, timed(() => (sink += run(log).stats().openWindows)));
    withIt = Math.min(withIt, timed(() => (sink += run(log, log.length, withModel).stats().openWindows)));
  }
  if (sink === 0) throw new Error('unreachable: keeps the loops from being optimised away');
  return {
    withoutModelPerSec: Math.round(log.length / without),
    withModelPerSec: Math.round(log.length / withIt),
    modelMicrosPerReading: Number((((withIt - without) / log.length) * 1e6).toFixed(3)),
  };
}

/**
 * Heap held by the topology's state per active meter (open windows, duplicate ids, meter sets),
 * measured with forced garbage collections when node runs with --expose-gc; null otherwise.
 */
export function measureStatePerMeter(log: Buffer[], meters: number, readingsPerMeter: number): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  // Stop mid-window, where the state is largest: every meter has readings in an open window.
  const upTo = Math.min(log.length, meters * readingsPerMeter);
  const settle = () => {
    for (let i = 0; i < 3; i++) gc();
    return process.memoryUsage().heapUsed;
  };
  const before = settle();
  const topology = run(log, upTo);
  const after = settle();
  if (topology.stats().meters !== meters) throw new Error(`expected ${meters} active meters, saw ${topology.stats().meters}`);
  return Math.round((after - before) / meters);
}
