import { createAlertRules, resolveProcessorOptions, StreamTopology, VoltageModelRule, type ProcessorOptions } from '@meterstream/processing';
import { runningModelFromSnapshot } from './running-model';
import { HOUR, syntheticReadings } from './testing/synthetic-line';

const PROCESSOR: ProcessorOptions = { windowSizeMs: 60_000, outOfOrdernessMs: 10_000, allowedLatenessMs: 0, idleTimeoutMs: Infinity };

describe('runningModelFromSnapshot', () => {
  it('gives the parameters the processor\'s model has now, and the version it started from', () => {
    const rules = createAlertRules(resolveProcessorOptions(PROCESSOR), 'meterstream');
    const topology = new StreamTopology(PROCESSOR, undefined, rules);
    const { readings } = syntheticReadings({ seed: 3, lines: 2, metersPerLine: 4, start: Date.parse('2026-03-02T10:00:00Z'), durationMs: HOUR, noiseV: 0.2 });
    topology.installModel({ version: 4, createdAt: '', trainedOn: { from: 0, to: 0 }, lines: {} });
    for (const r of readings) topology.process('0', r, r.eventTime);
    topology.takeOutput();
    const running = runningModelFromSnapshot(JSON.parse(JSON.stringify(topology.snapshot())));
    const rule = rules.find((r): r is VoltageModelRule => r instanceof VoltageModelRule)!;
    expect(running).toEqual({ version: 4, lines: { L01: rule.lineModel('L01')!.parameters(), L02: rule.lineModel('L02')!.parameters() } });
    expect(Object.keys(running!.lines.L01.meters)).toHaveLength(4);
  });

  it('is null without a checkpoint or without the voltage-model rule', () => {
    expect(runningModelFromSnapshot(null)).toBeNull();
    const limitsOnly = new StreamTopology(PROCESSOR);
    expect(runningModelFromSnapshot(limitsOnly.snapshot())).toBeNull();
  });
});
