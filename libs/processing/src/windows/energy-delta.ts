/** JSON-safe form of EnergyDelta: the meters in first-seen order and their spans, four numbers each. */
export interface EnergyDeltaSnapshot {
  meters: string[];
  /** Per meter, in the order of `meters`: first event time, first kWh, last event time, last kWh. */
  spans: number[];
}

/**
 * Energy consumed in one window from the meters' cumulative kWh registers. Per meter it keeps only
 * the first and the last register value by event time (ties, which the reading id rules out in
 * practice, are ordered by the value), so arrival order does not matter and memory is four numbers
 * per meter, in one flat array: no allocation per reading.
 *
 * A meter's delta is last − first: the first reading only marks the start, so a meter with one
 * reading in the window contributes 0. A register that ends lower than it started (meter replaced
 * or reset) contributes 0 rather than a negative amount. A reset followed by a climb back above
 * the starting value within the same window cannot be told apart from first/last and counts as
 * last − first.
 */
export class EnergyDelta {
  /** deviceId → offset of the meter's span in `spans`. */
  private readonly slots = new Map<string, number>();
  private readonly spans: number[] = [];

  add(deviceId: string, eventTime: number, kwh: number): void {
    const i = this.slots.get(deviceId);
    const spans = this.spans;
    if (i === undefined) {
      this.slots.set(deviceId, spans.length);
      spans.push(eventTime, kwh, eventTime, kwh);
      return;
    }
    if (eventTime < spans[i] || (eventTime === spans[i] && kwh < spans[i + 1])) {
      spans[i] = eventTime;
      spans[i + 1] = kwh;
    }
    if (eventTime > spans[i + 2] || (eventTime === spans[i + 2] && kwh > spans[i + 3])) {
      spans[i + 2] = eventTime;
      spans[i + 3] = kwh;
    }
  }

  /** One meter's delta, or undefined when none of its readings in the window carried kwh. */
  meterDelta(deviceId: string): number | undefined {
    const i = this.slots.get(deviceId);
    return i === undefined ? undefined : spanDelta(this.spans, i);
  }

  /** Sum of the meters' deltas, added in deviceId order so the float sum never depends on arrival order. */
  total(): number {
    let sum = 0;
    for (const deviceId of [...this.slots.keys()].sort()) sum += spanDelta(this.spans, this.slots.get(deviceId)!);
    return sum;
  }

  snapshot(): EnergyDeltaSnapshot {
    return { meters: [...this.slots.keys()], spans: [...this.spans] };
  }

  static restore(snapshot: EnergyDeltaSnapshot): EnergyDelta {
    if (snapshot.spans.length !== 4 * snapshot.meters.length) throw new Error(`EnergyDelta snapshot holds ${snapshot.spans.length} numbers for ${snapshot.meters.length} meters`);
    const energy = new EnergyDelta();
    snapshot.meters.forEach((deviceId, k) => energy.slots.set(deviceId, 4 * k));
    for (const value of snapshot.spans) energy.spans.push(value); // no spread: a big line would overflow the call stack
    return energy;
  }
}

function spanDelta(spans: number[], i: number): number {
  const delta = spans[i + 3] - spans[i + 1];
  return delta > 0 ? delta : 0;
}
