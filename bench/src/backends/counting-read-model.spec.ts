import type { AggregateEnvelope } from '@meterstream/contracts';
import type { ReadModel, ReadModelBatch } from '@meterstream/read-model';
import { CountingReadModel } from './counting-read-model';

function aggregate(id: string, count: number, deviceId?: string): AggregateEnvelope {
  return { id, body: { lineId: 'L01', deviceId, count } } as unknown as AggregateEnvelope;
}

function innerModel(applied: ReadModelBatch[]): ReadModel {
  return { apply: async (batch: ReadModelBatch) => void applied.push(batch) } as unknown as ReadModel;
}

describe('CountingReadModel', () => {
  it('passes batches through and counts the readings of distinct per-line windows only', async () => {
    const applied: ReadModelBatch[] = [];
    const model = new CountingReadModel(innerModel(applied));
    await model.apply({ aggregates: [aggregate('w1', 30), aggregate('w1-m1', 3, 'm1')] });
    // A rolled-back poll applies the same window again: it must not count twice.
    await model.apply({ aggregates: [aggregate('w1', 30), aggregate('w2', 12)] });
    await model.apply({ readings: [] });
    expect(applied).toHaveLength(3);
    expect(model.aggregated).toBe(42);
  });

  it('resolves untilAggregated once the target is reached, not before', async () => {
    const model = new CountingReadModel(innerModel([]));
    let reached = false;
    const waiting = model.untilAggregated(50).then(() => (reached = true));
    await model.apply({ aggregates: [aggregate('w1', 30)] });
    await Promise.resolve();
    expect(reached).toBe(false);
    await model.apply({ aggregates: [aggregate('w2', 20)] });
    await waiting;
    expect(reached).toBe(true);
    await expect(model.untilAggregated(10)).resolves.toBeUndefined();
  });
});
