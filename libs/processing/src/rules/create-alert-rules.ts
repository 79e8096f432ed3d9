import type { ResolvedProcessorOptions } from '../options';
import { FixedVarianceRule } from './fixed-variance.rule';
import { MeterClockRule, type MeterClockOptions } from './meter-clock.rule';
import { MeterHealthRule, type MeterHealthOptions } from './meter-health.rule';
import type { ReadingEnvelope } from '@meterstream/contracts';
import type { ScoredReading } from '../model/line-voltage-model';
import type { AlertRule } from './rule';
import { VoltageLimitRule } from './voltage-limit.rule';
import { VoltageModelRule, type ModelDetectionOptions } from './voltage-model.rule';

/**
 * Which rules run: `meterstream` (ANSI limits, the voltage model's detectors, stuck and stale
 * meters, fast meter clocks), `fixed-variance` (the original system's rule alone, as a baseline), or `all`.
 */
export type RuleSet = 'meterstream' | 'fixed-variance' | 'all';
export const RULE_SETS: readonly RuleSet[] = ['meterstream', 'fixed-variance', 'all'];

export interface RuleTuning {
  detection?: Partial<ModelDetectionOptions>;
  meterHealth?: Partial<MeterHealthOptions>;
  /** Defaults: tolerance from options.meterClockToleranceMs, 3 of 5 readings ahead raise, 5 on time clear. */
  meterClock?: Partial<MeterClockOptions>;
  /** ANSI limit rule deadband for clearing (volts); default 1. */
  limitClearMarginV?: number;
  /** Sees every reading the voltage model scores (the evaluation measures the model's error with it). */
  observeModel?: (reading: ReadingEnvelope, scored: ScoredReading) => void;
  /** The baseline's fixed tolerance (volts); default 20, as the original system used. */
  fixedVarianceV?: number;
}

export function createAlertRules(options: ResolvedProcessorOptions, ruleSet: RuleSet = 'meterstream', tuning: RuleTuning = {}): AlertRule[] {
  const meterstream = (): AlertRule[] => [
    new VoltageLimitRule({ ...options, clearMarginV: tuning.limitClearMarginV ?? 1 }),
    new VoltageModelRule(tuning.detection, undefined, tuning.observeModel),
    new MeterHealthRule(tuning.meterHealth),
    new MeterClockRule({ toleranceMs: options.meterClockToleranceMs, ...tuning.meterClock }),
  ];
  switch (ruleSet) {
    case 'meterstream':
      return meterstream();
    case 'fixed-variance':
      return [new FixedVarianceRule(tuning.fixedVarianceV)];
    case 'all':
      return [...meterstream(), new FixedVarianceRule(tuning.fixedVarianceV)];
    default:
      throw new RangeError(`Unknown rule set "${String(ruleSet)}"; expected one of ${RULE_SETS.join(', ')}`);
  }
}
