import { Command } from 'commander';
import * as os from 'node:os';
import { measureBrokerCeiling } from './broker-ceiling';
import { measureCore, measureModelCost, measureStatePerMeter, recordedLog } from './core';
import { assertBackendsReachable, measureStreamBackends, type StreamBackendsResult } from './backends/stream-backends';
import { parseBackends, parseStages } from './bench-options';
import { measureEndToEnd, type EndToEndResult } from './end-to-end';
import { workloadReadings, type Workload } from './workload';

/**
 * `npm run bench`: throughput of the embedded pipeline next to baselines measured in the same
 * run on the same payloads (bare JSON.parse; the MQTT broker alone), because only ratios survive
 * a shared, noisy machine; then the same readings through each stream backend (embedded, Kafka,
 * Kinesis) for ratios between them. Progress goes to stderr; the last line on stdout is one JSON
 * object.
 */
const program = new Command()
  .option('--lines <n>', 'feeder lines', (v) => Number(v), 20)
  .option('--meters-per-line <n>', 'meters per line', (v) => Number(v), 50)
  .option('--intervals <n>', 'readings per meter', (v) => Number(v), 300)
  .option('--concentrator <n>', 'readings per message when a data concentrator batches a line', (v) => Number(v), 50)
  .option('--broker <url>', 'an external MQTT broker (e.g. Mosquitto) instead of the embedded aedes')
  .option('--backends <list>', 'stream backends of stage 6, comma-separated: embedded, kafka, kinesis (embedded always runs: the others are ratios to it)', 'embedded')
  .option('--backend-readings <n>', 'readings of the stage 6 workload (the same lines and meters, fewer intervals)', (v) => Number(v), 100_000)
  .option('--only <stages>', 'run only these stages, comma-separated: baseline, core, model, broker, direct, concentrator, backends')
  .parse();
const opts = program.opts<{
  lines: number;
  metersPerLine: number;
  intervals: number;
  concentrator: number;
  broker?: string;
  backends: string;
  backendReadings: number;
  only?: string;
}>();

const TARGET_READINGS_PER_SEC = 50_000;
const progress = (line: string) => process.stderr.write(`${line}\n`);
const fmt = (n: number) => n.toLocaleString('en');

function jsonParseRate(payloads: Buffer[]): number {
  let best = Infinity;
  let sink = 0;
  for (let round = 0; round < 5; round++) {
    const t = process.hrtime.bigint();
    for (const p of payloads) sink += (JSON.parse(p.toString('utf8')) as { voltage: number }).voltage;
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  if (sink === 0) throw new Error('unreachable: keeps the parse loop from being optimised away');
  return Math.round(payloads.length / best);
}

const ratio = (value: number, base: number | undefined, digits: number) => (base === undefined ? null : Number((value / base).toFixed(digits)));

async function main(): Promise<void> {
  const stages = parseStages(opts.only);
  const backends = parseBackends(opts.backends);
  if (!Number.isInteger(opts.backendReadings) || opts.backendReadings < 1) throw new Error(`--backend-readings must be a positive integer, got ${opts.backendReadings}`);
  const single: Workload = { lines: opts.lines, metersPerLine: opts.metersPerLine, intervals: opts.intervals, seed: 7, readingsPerMessage: 1 };
  const batched: Workload = { ...single, readingsPerMessage: opts.concentrator };
  progress(`bench: ${single.lines} lines × ${single.metersPerLine} meters × ${single.intervals} readings on ${os.cpus().length} cores`);
  progress(`bench: stages ${[...stages].join(', ')}; stream backends ${backends.join(', ')}` + (opts.backends === 'embedded' ? ' (all of them: npm run bench -- --backends embedded,kafka,kinesis, engines from bash scripts/engines/up.sh kafka kinesalite)' : ''));
  // An engine that is down fails the run now, not after minutes of the other stages.
  if (stages.has('backends')) await assertBackendsReachable(backends);
  const readings = workloadReadings(single);
  const n = readings.length;

  let jsonParse: number | undefined;
  if (stages.has('baseline')) {
    progress('[1/6] baseline: bare JSON.parse of the same payloads (best of 5)');
    jsonParse = jsonParseRate(readings.map((m) => m.payload));
    progress(`      ${fmt(jsonParse)} readings/s`);
  }

  const log = stages.has('core') || stages.has('model') ? recordedLog(readings) : [];
  let core: { eventsPerSec: number; jsonParsePerSec: number; statePerMeter: number | null } | undefined;
  if (stages.has('core')) {
    progress('[2/6] the processing core alone, one core: decode, window, rules (best of 7, alternating with JSON.parse), and its state per meter');
    const rates = measureCore(log);
    const statePerMeter = measureStatePerMeter(log, single.lines * single.metersPerLine, 3);
    core = { ...rates, statePerMeter };
    progress(`      ${fmt(rates.eventsPerSec)} events/s vs JSON.parse of the same envelopes ${fmt(rates.jsonParsePerSec)}/s; state ${statePerMeter ?? '(run node with --expose-gc)'} bytes per active meter`);
  }

  let model: ReturnType<typeof measureModelCost> | undefined;
  if (stages.has('model')) {
    progress('[2b/6] the voltage model: the core with the ANSI limit rule only vs with the model, its detectors and meter health (best of 5, alternating)');
    model = measureModelCost(log);
    progress(`      ${fmt(model.withoutModelPerSec)} events/s without, ${fmt(model.withModelPerSec)} with: ${model.modelMicrosPerReading} µs per reading, ${((1 - model.withModelPerSec / model.withoutModelPerSec) * 100).toFixed(1)} % of throughput`);
  }

  let ceiling: { messagesPerSec: number } | undefined;
  if (stages.has('broker')) {
    progress(`[3/6] baseline: the broker alone (QoS 1 publish → ${opts.broker ?? 'embedded aedes'} → the bridge’s subscriber doing nothing)`);
    ceiling = await measureBrokerCeiling(single, n, opts.broker);
    progress(`      ${fmt(ceiling.messagesPerSec)} messages/s`);
  }

  let direct: EndToEndResult | undefined;
  if (stages.has('direct')) {
    progress('[4/6] end to end, one reading per message (meters publish directly)');
    direct = await measureEndToEnd(single, n, (l) => progress(`     ${l}`), opts.broker);
    progress(`      ${fmt(direct.readingsPerSec)} readings/s, lost ${direct.lost}`);
  }

  let concentrated: EndToEndResult | undefined;
  if (stages.has('concentrator')) {
    progress(`[5/6] end to end, ${batched.readingsPerMessage} readings per message (a data concentrator per line)`);
    concentrated = await measureEndToEnd(batched, n, (l) => progress(`     ${l}`), opts.broker);
    progress(`      ${fmt(concentrated.readingsPerSec)} readings/s, lost ${concentrated.lost}`);
  }

  let backendResults: StreamBackendsResult | undefined;
  if (stages.has('backends')) {
    progress(
      `[6/6] stream backends (${backends.join(', ')}; choose with --backends embedded,kafka,kinesis): ${fmt(opts.backendReadings)} readings appended in the bridge’s batches, ` +
        'then the distributed processor to the end, outputs to the same backend and the SQLite read model',
    );
    const intervals = Math.max(1, Math.ceil(opts.backendReadings / (single.lines * single.metersPerLine)));
    backendResults = await measureStreamBackends(backends, { ...single, intervals }, (l) => progress(`      ${l}`));
  }

  const endToEnd = (name: string, r: EndToEndResult) => ({
    name,
    readingsPerSec: r.readingsPerSec,
    seconds: Number(r.seconds.toFixed(2)),
    lost: r.lost,
    inLog: r.inLog,
    aggregated: r.aggregated,
    ratioToJsonParse: ratio(r.readingsPerSec, jsonParse, 4),
  });
  const result = {
    bench: 'meterstream-embedded-pipeline',
    node: process.version,
    cpus: os.cpus().length,
    readings: n,
    durability: 'QoS 1, PUBACK after SQLite commit with synchronous=FULL',
    baselines: {
      jsonParse: jsonParse === undefined ? undefined : { name: 'bare JSON.parse of the same single-reading payloads', readingsPerSec: jsonParse },
      brokerOnly: ceiling && { name: `${opts.broker ?? 'aedes'} QoS 1 to a persistent subscriber that does nothing`, messagesPerSec: ceiling.messagesPerSec },
    },
    core: core && {
      name: 'decode + event-time windows + rules on one core, no I/O',
      eventsPerSec: core.eventsPerSec,
      jsonParseOfSameEnvelopesPerSec: core.jsonParsePerSec,
      ratioToJsonParse: Number((core.eventsPerSec / core.jsonParsePerSec).toFixed(3)),
      stateBytesPerActiveMeter: core.statePerMeter,
    },
    model: model && {
      name: 'scoring and updating the voltage model per reading (+ its detectors and meter health), core on one core',
      withoutModelPerSec: model.withoutModelPerSec,
      withModelPerSec: model.withModelPerSec,
      modelMicrosPerReading: model.modelMicrosPerReading,
      throughputRatio: Number((model.withModelPerSec / model.withoutModelPerSec).toFixed(3)),
      target: { maxThroughputCost: 0.3, met: model.withModelPerSec / model.withoutModelPerSec >= 0.7 },
    },
    endToEnd: {
      direct: direct && { ...endToEnd('one reading per MQTT message', direct), ratioToBrokerOnly: ratio(direct.readingsPerSec, ceiling?.messagesPerSec, 3) },
      concentrator: concentrated && { ...endToEnd(`${batched.readingsPerMessage} readings per MQTT message`, concentrated), readingsPerMessage: batched.readingsPerMessage },
    },
    backends: backendResults,
    target:
      direct && concentrated
        ? {
            readingsPerSec: TARGET_READINGS_PER_SEC,
            met: Math.max(direct.readingsPerSec, concentrated.readingsPerSec) >= TARGET_READINGS_PER_SEC && direct.lost === 0 && concentrated.lost === 0,
          }
        : undefined,
  };
  // JSON.stringify leaves out what is undefined: the sections of stages that were skipped (--only).
  await new Promise((resolve) => process.stdout.write(`${JSON.stringify(result)}\n`, resolve));
  const lost = [direct?.lost, concentrated?.lost, ...backends.map((b) => backendResults?.[b]?.lost)];
  if (lost.some((l) => l !== undefined && l !== 0)) process.exitCode = 1;
}

main()
  // Exit once the result is out: an engine client may keep sockets open after close() (kafkajs
  // connections opened by concurrent first fetches stay up until the broker idles them out after
  // 10 minutes), and the bench must not wait for that.
  .then(() => process.exit())
  .catch((err: Error) => {
    console.error(`bench failed: ${err.message}`);
    process.exit(1);
  });
