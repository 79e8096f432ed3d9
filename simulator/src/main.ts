#!/usr/bin/env node
/**
 * `npm run simulate -- --broker mqtt://127.0.0.1:1883 --lines 20 --meters-per-line 50 --start now-1h --speed 60`
 * Publishes the simulated fleet until the duration is over or Ctrl-C; see --help.
 */
import { CommanderError } from 'commander';
import { parseCliArgs, type CliSettings } from './cli/cli-options';
import { formatDuration } from './cli/time-arguments';
import { runSimulator } from './publishing/run-simulator';

const iso = (ms: number): string => new Date(ms).toISOString();

async function main(): Promise<void> {
  let settings: CliSettings;
  try {
    settings = parseCliArgs(process.argv, process.env, Date.now());
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode); // commander has already explained
    console.error(`simulate: ${(err as Error).message}`);
    process.exit(2);
  }
  const { run, progressEveryMs } = settings;

  const controller = new AbortController();
  let interrupts = 0;
  const stop = (): void => {
    if (++interrupts > 1) {
      console.error('simulate: forced exit; messages still in flight may be lost');
      process.exit(130);
    }
    console.log('simulate: stopping: waiting for the broker to acknowledge what was sent (Ctrl-C again to force)');
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const end = run.start + run.durationMs;
  console.log(
    `simulate: ${run.lines} lines × ${run.metersPerLine} meters every ${formatDuration(run.intervalMs)} → ${run.brokerUrl} ` +
      `(QoS ${run.qos}, speed ${run.speed === 0 ? 'max' : `${run.speed}×`}${run.rate ? `, ≤ ${run.rate}/s` : ''}, seed ${run.seed}, faults ${typeof run.faults === 'string' ? run.faults : `${run.faults.length} specs`})`,
  );
  console.log(`simulate: simulated time ${iso(run.start)} → ${Number.isFinite(end) ? iso(end) : 'forever'} (UTC)${run.labelsFile ? `, labels → ${run.labelsFile}` : ''}`);

  if (run.catchUpToNow && run.start > Date.now()) {
    console.log(`simulate: the start is in the future; readings go out in real time from ${iso(run.start)} (--no-catch-up runs ahead of the clock)`);
  }

  const began = Date.now();
  let lastAt = began;
  let lastCount = 0;
  const result = await runSimulator({
    ...run,
    signal: controller.signal,
    onResume: ({ acknowledged, simTime, start }) =>
      console.log(`simulate: continuing the run that started at ${iso(start)} (${run.stateFile}) after its message ${acknowledged}, simulated time ${iso(simTime)}; labels appended`),
    onProgress: ({ published, simTime }) => {
      const now = Date.now();
      if (now - lastAt < progressEveryMs) return;
      const rate = (published - lastCount) / ((now - lastAt) / 1000);
      console.log(`simulate: published ${published} (${Math.round(rate)}/s), simulated time ${iso(simTime)}`);
      lastAt = now;
      lastCount = published;
    },
  });

  const seconds = (Date.now() - began) / 1000;
  console.log(
    `simulate: ${controller.signal.aborted ? 'stopped' : 'done'}: ${result.published} messages in ${seconds.toFixed(1)} s ` +
      `(${Math.round(result.published / Math.max(seconds, 0.001))}/s), simulated ${iso(run.start)} → ${iso(result.simEnd)}`,
  );
}

main().catch((err: Error) => {
  console.error(`simulate: ${err.message}`);
  process.exit(1);
});
