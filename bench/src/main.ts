import { Command } from 'commander';
import * as os from 'node:os';
import { measureBrokerCeiling } from './broker-ceiling';
import { measureCore, measureModelCost, measureStatePerMeter, recordedLog } from './core';
import { measureEndToEnd } from './end-to-end';
import { workloadReadings, type Workload } from './workload';

/**
 * `npm run bench`: throughput of the embedded pipeline next to baselines measured in the same
 * run on the same payloads (bare JSON.parse; the MQTT broker alone), because only ratios survive
 * a shared, noisy machine. Progress goes to stderr; the last line on stdout is one JSON object.
 */
const program = new Command()
  .option('--lines <n>', 'feeder lines', (v) => Number(v), 20)
  .option('--meters-per-line <n>', 'meters per line', (v) => Number(v), 50)
  .option('--intervals <n>', 'readings per meter', (v) => Number(v), 300)
  .option('--concentrator <n>', 'readings per message when a data concentrator batches a line', (v) => Number(v), 50)
  .option('--broker <url>', 'an external MQTT broker (e.g. Mosquitto) instead of the embedded aedes')
  .parse();
const opts = program.opts<{ lines: number; metersPerLine: number; intervals: number; concentrator: number; broker?: string }>();

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

async function main(): Promise<void> {
  const single: Workload = { lines: opts.lines, metersPerLine: opts.metersPerLine, intervals: opts.intervals, seed: 7, readingsPerMessage: 1 };
  const batched: Workload = { ...single, readingsPerMessage: opts.concentrator };
  progress(`bench: ${single.lines} lines × ${single.metersPerLine} meters × ${single.intervals} readings on ${os.cpus().length} cores`);
  const readings = workloadReadings(single);
  const n = readings.length;

  progress('[1/5] baseline: bare JSON.parse of the same payloads (best of 5)');
  const jsonParse = jsonParseRate(readings.map((m) => m.payload));
  progress(`      ${fmt(jsonParse)} readings/s`);

  progress('[2/5] the processing core alone, one core: decode, window, rules (best of 7, alternating with JSON.parse), and its state per meter');
  const log = recordedLog(readings);
  const core = measureCore(log);
  const meters = single.lines * single.metersPerLine;
  const statePerMeter = measureStatePerMeter(log, meters, 3);
  progress(`      ${fmt(core.eventsPerSec)} events/s vs JSON.parse of the same envelopes ${fmt(core.jsonParsePerSec)}/s; state ${statePerMeter ?? '(run node with --expose-gc)'} bytes per active meter`);

  progress('[2b/5] the voltage model: the core with the ANSI limit rule only vs with the model, its detectors and meter health (best of 5, alternating)');
  const model = measureModelCost(log);
  progress(`      ${fmt(model.withoutModelPerSec)} events/s without, ${fmt(model.withModelPerSec)} with: ${model.modelMicrosPerReading} µs per reading, ${((1 - model.withModelPerSec / model.withoutModelPerSec) * 100).toFixed(1)} % of throughput`);

  progress(`[3/5] baseline: the broker alone (QoS 1 publish → ${opts.broker ?? 'embedded aedes'} → the bridge’s subscriber doing nothing)`);
  const ceiling = await measureBrokerCeiling(single, n, opts.broker);
  progress(`      ${fmt(ceiling.messagesPerSec)} messages/s`);

  progress('[4/5] end to end, one reading per message (meters publish directly)');
  const direct = await measureEndToEnd(single, n, (l) => progress(`     ${l}`), opts.broker);
  progress(`      ${fmt(direct.readingsPerSec)} readings/s, lost ${direct.lost}`);

  progress(`[5/5] end to end, ${batched.readingsPerMessage} readings per message (a data concentrator per line)`);
  const concentrated = await measureEndToEnd(batched, n, (l) => progress(`     ${l}`), opts.broker);
  progress(`      ${fmt(concentrated.readingsPerSec)} readings/s, lost ${concentrated.lost}`);

  const endToEnd = (name: string, r: typeof direct) => ({
    name,
    readingsPerSec: r.readingsPerSec,
    seconds: Number(r.seconds.toFixed(2)),
    lost: r.lost,
    inLog: r.inLog,
    aggregated: r.aggregated,
    ratioToJsonParse: Number((r.readingsPerSec / jsonParse).toFixed(4)),
  });
  const best = Math.max(direct.readingsPerSec, concentrated.readingsPerSec);
  const result = {
    bench: 'meterstream-embedded-pipeline',
    node: process.version,
    cpus: os.cpus().length,
    readings: n,
    durability: 'QoS 1, PUBACK after SQLite commit with synchronous=FULL',
    baselines: {
      jsonParse: { name: 'bare JSON.parse of the same single-reading payloads', readingsPerSec: jsonParse },
      brokerOnly: { name: `${opts.broker ?? 'aedes'} QoS 1 to a persistent subscriber that does nothing`, messagesPerSec: ceiling.messagesPerSec },
    },
    core: {
      name: 'decode + event-time windows + rules on one core, no I/O',
      eventsPerSec: core.eventsPerSec,
      jsonParseOfSameEnvelopesPerSec: core.jsonParsePerSec,
      ratioToJsonParse: Number((core.eventsPerSec / core.jsonParsePerSec).toFixed(3)),
      stateBytesPerActiveMeter: statePerMeter,
    },
    model: {
      name: 'scoring and updating the voltage model per reading (+ its detectors and meter health), core on one core',
      withoutModelPerSec: model.withoutModelPerSec,
      withModelPerSec: model.withModelPerSec,
      modelMicrosPerReading: model.modelMicrosPerReading,
      throughputRatio: Number((model.withModelPerSec / model.withoutModelPerSec).toFixed(3)),
      target: { maxThroughputCost: 0.3, met: model.withModelPerSec / model.withoutModelPerSec >= 0.7 },
    },
    endToEnd: {
      direct: { ...endToEnd('one reading per MQTT message', direct), ratioToBrokerOnly: Number((direct.readingsPerSec / ceiling.messagesPerSec).toFixed(3)) },
      concentrator: { ...endToEnd(`${batched.readingsPerMessage} readings per MQTT message`, concentrated), readingsPerMessage: batched.readingsPerMessage },
    },
    target: { readingsPerSec: TARGET_READINGS_PER_SEC, met: best >= TARGET_READINGS_PER_SEC && direct.lost === 0 && concentrated.lost === 0 },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (direct.lost !== 0 || concentrated.lost !== 0) process.exitCode = 1;
}

main().catch((err: Error) => {
  console.error(`bench failed: ${err.message}`);
  process.exit(1);
});
