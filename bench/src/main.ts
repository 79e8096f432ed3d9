import { Command } from 'commander';
import * as os from 'node:os';
import { measureEndToEnd } from './end-to-end';
import { workloadMessages, type Workload } from './workload';

/**
 * `npm run bench`: throughput of the embedded pipeline next to a baseline measured in the same
 * run on the same payloads (JSON.parse), because only ratios survive a shared, noisy machine.
 * Progress goes to stderr; the last line on stdout is one JSON object.
 */
const program = new Command()
  .option('--lines <n>', 'feeder lines', (v) => Number(v), 20)
  .option('--meters-per-line <n>', 'meters per line', (v) => Number(v), 50)
  .option('--intervals <n>', 'readings per meter', (v) => Number(v), 300)
  .parse();
const opts = program.opts<{ lines: number; metersPerLine: number; intervals: number }>();

const progress = (line: string) => process.stderr.write(`${line}\n`);

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
  const workload: Workload = { lines: opts.lines, metersPerLine: opts.metersPerLine, intervals: opts.intervals, seed: 7 };
  progress(`bench: generating ${workload.lines} lines × ${workload.metersPerLine} meters × ${workload.intervals} readings`);
  const messages = workloadMessages(workload);
  const payloads = messages.map((m) => m.payload);

  progress('bench: baseline — bare JSON.parse of the same payloads (best of 5)');
  const jsonParse = jsonParseRate(payloads);
  progress(`  JSON.parse: ${jsonParse.toLocaleString('en')} readings/s`);

  progress('bench: end to end — MQTT QoS 1 publish → aedes → bridge (durable, acked) → log → processor → aggregates');
  const e2e = await measureEndToEnd(workload, messages.length, progress);
  progress(`  end to end: ${e2e.readingsPerSec.toLocaleString('en')} readings/s over ${e2e.seconds.toFixed(1)} s, lost ${e2e.lost}`);

  const result = {
    bench: 'meterstream',
    node: process.version,
    cpus: os.cpus().length,
    readings: messages.length,
    baseline: { name: 'JSON.parse of the same payloads', readingsPerSec: jsonParse },
    endToEnd: {
      name: 'embedded pipeline, MQTT publish to fired aggregate (synchronous=FULL, QoS 1)',
      readingsPerSec: e2e.readingsPerSec,
      seconds: Number(e2e.seconds.toFixed(2)),
      publishPerSec: e2e.publishPerSec,
      lost: e2e.lost,
      inLog: e2e.inLog,
      aggregated: e2e.aggregated,
      ratioToBaseline: Number((e2e.readingsPerSec / jsonParse).toFixed(4)),
    },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (e2e.lost !== 0) process.exitCode = 1;
}

main().catch((err: Error) => {
  console.error(`bench failed: ${err.message}`);
  process.exit(1);
});
