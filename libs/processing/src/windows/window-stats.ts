import type { Stats } from '@meterstream/contracts';

/** Plain, JSON-safe form of WindowStats (no Infinity: optional quantities are absent when unseen). */
export interface WindowStatsSnapshot {
  count: number;
  vMin: number;
  vMax: number;
  vMean: number;
  vM2: number;
  maxIngestTime: number;
  current?: OptionalQuantitySnapshot;
  kw?: OptionalQuantitySnapshot;
}

export interface OptionalQuantitySnapshot {
  count: number;
  sum: number;
  max: number;
}

/**
 * Running statistics of one window: voltage min/max and mean/variance by Welford's update (stable
 * where sum/sum-of-squares cancels catastrophically around 120 V), plus mean/max of current and kW
 * over the readings that carried them. O(1) memory and no allocation per reading.
 */
export class WindowStats {
  count = 0;
  private vMin = 0;
  private vMax = 0;
  private vMean = 0;
  private vM2 = 0;
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

  /** Voltage statistics; stddev is the population standard deviation. Only meaningful when count > 0. */
  voltage(): Stats {
    return { min: this.vMin, max: this.vMax, mean: this.vMean, stddev: Math.sqrt(Math.max(0, this.vM2) / this.count) };
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
}
