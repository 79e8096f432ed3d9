import { runCvrEvaluation, type CvrEvaluationResult } from '@meterstream/evaluation';

export interface CvrEvaluateOptions {
  seed: number;
  lines: number;
  metersPerLine: number;
  /** Minutes between a meter's readings. */
  interval: number;
  days: number;
  start: string;
  timeZone: string;
  marginV: number;
  json: boolean;
}

/**
 * `meterstream cvr --evaluate`: runs a simulated CVR programme with known truth through the
 * contract and the CVR estimators and prints, per line, the estimated factor with its interval
 * against the truth, the kWh saved against the simulator's counterfactual and whether the
 * recommended setpoint keeps every meter at or above 114 V; then the acceptance.
 */
export function cvrEvaluate(options: CvrEvaluateOptions, out: (line: string) => void = console.log, progress: (text: string) => void = (t) => process.stderr.write(t)): CvrEvaluationResult {
  const started = Date.now();
  const start = Date.parse(options.start);
  if (!Number.isFinite(start)) throw new Error(`--start: "${options.start}" is not an ISO-8601 time`);
  const result = runCvrEvaluation({
    seed: options.seed,
    lines: options.lines,
    metersPerLine: options.metersPerLine,
    intervalMs: options.interval * 60_000,
    start,
    days: options.days,
    timeZone: options.timeZone,
    analysis: { marginV: options.marginV },
    factorTolerance: 0.15,
    savingsTolerance: 0.2,
    onProgress: ({ day, days, readings }) => {
      progress(`\rcvr --evaluate: simulated day ${day}/${days}, ${readings.toLocaleString('en-US')} readings, ${((Date.now() - started) / 1000).toFixed(0)} s`);
    },
  });
  progress('\n');
  const confidence = result.reports[0]?.factor.status === 'estimated' ? Math.round(result.reports[0].factor.confidence * 100) : 90;
  out(`${result.readings.toLocaleString('en-US')} readings: ${options.lines} lines × ${options.metersPerLine} meters, ${options.days} days every ${options.interval} min, local days in ${options.timeZone}`);
  out('');
  out(`line   true f  estimated f  ${confidence} % interval      error   kWh saved (true)  estimated [interval]               error  reduction  lowest after  ≥114 V`);
  for (const l of result.lines) {
    if (l.estimatedFactor === null) {
      out(`${l.lineId.padEnd(6)} ${l.trueFactor.toFixed(3).padStart(6)}  refused: ${l.refusal}`);
      continue;
    }
    out(
      [
        l.lineId.padEnd(6),
        l.trueFactor.toFixed(3).padStart(6),
        l.estimatedFactor.toFixed(3).padStart(12),
        `[${l.interval![0].toFixed(3)}, ${l.interval![1].toFixed(3)}]`.padStart(18),
        signed(l.factorError!, 3).padStart(8),
        l.trueSavedKwh.toFixed(0).padStart(18),
        `${l.estimatedSavedKwh!.toFixed(0)} [${l.savedInterval![0].toFixed(0)}, ${l.savedInterval![1].toFixed(0)}]`.padStart(22),
        `${signed(l.savingsRelativeError! * 100, 1)} %`.padStart(15),
        `${l.recommendedReductionV.toFixed(1)} V`.padStart(10),
        `${l.lowestAfterReductionV.toFixed(1)} V`.padStart(13),
        (l.keepsEveryMeterAbove114 ? 'yes' : 'NO').padStart(7),
      ].join(' '),
    );
  }
  const a = result.acceptance;
  out('');
  out(
    `acceptance: factor within ±0.15 on ${a.factorsWithinTolerance}/${a.lines} lines; interval contains the truth on ${a.intervalsContainingTruth}/${a.lines}; ` +
      `kWh saved within 20 % on ${a.savingsWithinTolerance}/${a.lines}; setpoint keeps every meter ≥ 114 V on ${a.setpointsKeepingRangeA}/${a.lines} — ${a.passed ? 'PASSED' : 'FAILED'}`,
  );
  if (options.json) out(JSON.stringify({ readings: result.readings, lines: result.lines, acceptance: result.acceptance }));
  return result;
}

function signed(value: number, decimals: number): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(decimals)}`;
}
