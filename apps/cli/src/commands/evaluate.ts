import { runEvaluation, type EvaluationResult, type KindScore } from '@meterstream/evaluation';

export interface EvaluateOptions {
  seed: number;
  lines: number;
  metersPerLine: number;
  interval: number;
  days: number;
  trainingDays: number;
  start: string;
  json: boolean;
}

/**
 * `meterstream evaluate`: scores the alert rules on a labelled simulated run (see runEvaluation)
 * and prints a table per rule set, then the whole result as one JSON line (machine-readable).
 */
export function evaluate(options: EvaluateOptions, out: (line: string) => void = console.log, progress: (line: string) => void = (l) => process.stderr.write(l)): EvaluationResult {
  const started = Date.now();
  const total = (options.days + options.trainingDays) * 24;
  const result = runEvaluation({
    seed: options.seed,
    lines: options.lines,
    metersPerLine: options.metersPerLine,
    intervalMs: options.interval * 1000,
    start: Date.parse(options.start),
    trainingDays: options.trainingDays,
    days: options.days,
    partitions: 8,
    graceMs: 5 * 60_000,
    onProgress: ({ simulatedMs, readings }) => {
      const hours = Math.round(simulatedMs / 3_600_000);
      const elapsed = (Date.now() - started) / 1000;
      progress(`\revaluate: simulated ${hours}/${total} h, ${readings.toLocaleString('en-US')} readings, ${elapsed.toFixed(0)} s${hours >= total ? '\n' : ''}`);
    },
  });
  progress('\n');
  out(
    `${result.readings.toLocaleString('en-US')} readings, ${result.options.lines} lines × ${result.options.metersPerLine} meters, ` +
      `${options.trainingDays} training day(s) + ${options.days} scored day(s), ${result.faults} labelled faults scored`,
  );
  out(`model MAE on fault-free readings: ${result.modelMae.toFixed(3)} V (baseline's line-mean prediction: ${result.baselineMae.toFixed(3)} V; ${result.maeReadings.toLocaleString('en-US')} readings)`);
  for (const set of [result.meterstream, result.baseline]) {
    out('');
    out(`${set.name}: ${set.score.alerts} alerts, ${set.score.falseAlarms} false alarms = ${set.score.falseAlarmsPerLinePerDay.toFixed(3)} per line per day`);
    out('  kind              faults  detected  precision  recall     F1   median delay');
    for (const k of set.score.kinds) out(`  ${row(k)}`);
    if (set.score.falseAlarms > 0) out(`  false alarms by alert kind: ${JSON.stringify(set.score.falseAlarmKinds)}`);
  }
  if (options.json) out(JSON.stringify(result));
  return result;
}

function row(k: KindScore): string {
  const delay = k.medianDelayMs === null ? '—' : `${(k.medianDelayMs / 60_000).toFixed(1)} min`;
  return `${k.kind.padEnd(17)} ${String(k.faults).padStart(6)}  ${String(k.detected).padStart(8)}  ${k.precision.toFixed(3).padStart(9)}  ${k.recall.toFixed(3).padStart(6)}  ${k.f1.toFixed(3).padStart(5)}  ${delay.padStart(12)}`;
}
