import type { VoltageStats } from '@meterstream/contracts';

/** Plain, JSON-safe form of WindowStats (no Infinity: optional quantities are absent when unseen). */
export interface WindowStatsSnapshot {
  count: number;
  vMin: number;
  vMax: number;
  vMean: number;
  vM2: number;
  /** Every voltage of the window (order carries no meaning), for the exact percentiles. */
  voltages: number[];
  maxIngestTime: number;
  current?: OptionalQuantitySnapshot;
  kw?: OptionalQuantitySnapshot;
}

export interface OptionalQuantitySnapshot {
  count: number;
  sum: number;
  max: number;
}

/** Initial capacity of a window's voltage buffer; it doubles when full. */
const INITIAL_VOLTAGE_CAPACITY = 8;

/**
 * Running statistics of one window: voltage min/max and mean/variance by Welford's update (stable
 * where sum/sum-of-squares cancels catastrophically around 120 V), plus mean/max of current and kW
 * over the readings that carried them.
 *
 * Exact percentiles need every value, so the voltages are also kept, unboxed in a Float64Array
 * grown by doubling (8 bytes a reading; the window is bounded by meters x readings per interval),
 * and sorted once, when the window fires. No allocation per reading beyond the amortised growth.
 */
export class WindowStats {
  count = 0;
  private vMin = 0;
  private vMax = 0;
  private vMean = 0;
  private vM2 = 0;
  /** voltages[0, count) hold the window's values. */
  private voltages = new Float64Array(INITIAL_VOLTAGE_CAPACITY);
  /** Highest ingest time of the merged readings: the ingestTime of the aggregate, so it never depends on a clock. */
  maxIngestTime = 0;
  private currentCount = 0;
  private currentSum = 0;
  private currentMax = 0;
  private kwCount = 0;
  private kwSum = 0;
  private kwMax = 0;

  add(voltage: number, current: number | undefined, kw: number | undefined, ingestTime: number): void {
    const n = ++this.count;
    if (n === 1) {
      this.vMin = voltage;
      this.vMax = voltage;
      this.maxIngestTime = ingestTime;
    } else {
      if (voltage < this.vMin) this.vMin = voltage;
      if (voltage > this.vMax) this.vMax = voltage;
      if (ingestTime > this.maxIngestTime) this.maxIngestTime = ingestTime;
    }
    if (n > this.voltages.length) this.growVoltages(n);
    this.voltages[n - 1] = voltage;
    const delta = voltage - this.vMean;
    this.vMean += delta / n;
    this.vM2 += delta * (voltage - this.vMean);

    if (current !== undefined) {
      if (this.currentCount === 0 || current > this.currentMax) this.currentMax = current;
      this.currentCount++;
      this.currentSum += current;
    }
    if (kw !== undefined) {
      if (this.kwCount === 0 || kw > this.kwMax) this.kwMax = kw;
      this.kwCount++;
      this.kwSum += kw;
    }
  }

  /**
   * Voltage statistics; stddev is the population standard deviation, p5/p95 are nearest-rank
   * percentiles (see nearestRank). Only meaningful when count > 0. Sorts the kept values in place
   * (their order carries no meaning), so call it when the window fires, not per reading.
   */
  voltage(): VoltageStats {
    const sorted = this.voltages.subarray(0, this.count).sort(); // typed-array sort is numeric
    return {
      min: this.vMin,
      max: this.vMax,
      mean: this.vMean,
      stddev: Math.sqrt(Math.max(0, this.vM2) / this.count),
      p5: nearestRank(sorted, 5),
      p95: nearestRank(sorted, 95),
    };
  }

  current(): { mean: number; max: number } | undefined {
    return this.currentCount === 0 ? undefined : { mean: this.currentSum / this.currentCount, max: this.currentMax };
  }

  kw(): { mean: number; max: number } | undefined {
    return this.kwCount === 0 ? undefined : { mean: this.kwSum / this.kwCount, max: this.kwMax };
  }

  snapshot(): WindowStatsSnapshot {
    const snapshot: WindowStatsSnapshot = {
      count: this.count,
      vMin: this.vMin,
      vMax: this.vMax,
      vMean: this.vMean,
      vM2: this.vM2,
      voltages: Array.from(this.voltages.subarray(0, this.count)),
      maxIngestTime: this.maxIngestTime,
    };
    if (this.currentCount > 0) snapshot.current = { count: this.currentCount, sum: this.currentSum, max: this.currentMax };
    if (this.kwCount > 0) snapshot.kw = { count: this.kwCount, sum: this.kwSum, max: this.kwMax };
    return snapshot;
  }

  static restore(snapshot: WindowStatsSnapshot): WindowStats {
    const stats = new WindowStats();
    stats.count = snapshot.count;
    stats.vMin = snapshot.vMin;
    stats.vMax = snapshot.vMax;
    stats.vMean = snapshot.vMean;
    stats.vM2 = snapshot.vM2;
    if (snapshot.voltages.length !== snapshot.count) throw new Error(`WindowStats snapshot holds ${snapshot.voltages.length} voltages for ${snapshot.count} readings`);
    stats.voltages = new Float64Array(Math.max(INITIAL_VOLTAGE_CAPACITY, snapshot.count));
    stats.voltages.set(snapshot.voltages);
    stats.maxIngestTime = snapshot.maxIngestTime;
    if (snapshot.current) {
      stats.currentCount = snapshot.current.count;
      stats.currentSum = snapshot.current.sum;
      stats.currentMax = snapshot.current.max;
    }
    if (snapshot.kw) {
      stats.kwCount = snapshot.kw.count;
      stats.kwSum = snapshot.kw.sum;
      stats.kwMax = snapshot.kw.max;
    }
    return stats;
  }

  private growVoltages(needed: number): void {
    let capacity = this.voltages.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Float64Array(capacity);
    grown.set(this.voltages);
    this.voltages = grown;
  }
}

/**
 * The nearest-rank percentile of ascending `sorted` (non-empty): the value at 1-based rank
 * ceil(percent * n / 100), i.e. the smallest value such that at least `percent` % of the values
 * are <= it. `percent` is an integer, so percent * n is exact and the ceiling never suffers from
 * a rounding error such as (7 / 100) * 100 = 7.000000000000001.
 */
export function nearestRank(sorted: ArrayLike<number>, percent: number): number {
  const rank = Math.max(1, Math.ceil((percent * sorted.length) / 100));
  return sorted[rank - 1];
}
