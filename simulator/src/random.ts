import type { RandomGenerator } from 'pure-rand/lib/types/RandomGenerator';

// pure-rand 8 publishes its entry points only through package.json "exports", which the
// workspace's `moduleResolution: node` cannot see; the types come from the files behind those
// exports and the runtime import goes through the exported path.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { xoroshiro128plus } = require('pure-rand/generator/xoroshiro128plus') as typeof import('pure-rand/lib/generator/xoroshiro128plus');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { uniformFloat64 } = require('pure-rand/distribution/uniformFloat64') as typeof import('pure-rand/lib/distribution/uniformFloat64');

/** 32-bit mix (murmur3 finaliser): spreads nearby inputs over the whole range. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit seed for one named purpose of a run: (seed, "line", 3) and (seed, "line", 4) give
 * unrelated streams. Each purpose draws from its own stream so that, for example, turning the
 * fault profile on does not change the noise of healthy readings.
 */
export function deriveSeed(seed: number, ...path: Array<string | number>): number {
  const whole = Math.trunc(seed);
  let h = mix32((whole >>> 0) ^ 0x9e3779b9);
  h = mix32(h ^ (Math.floor(whole / 0x1_0000_0000) >>> 0));
  for (const part of path) {
    const text = String(part);
    for (let i = 0; i < text.length; i++) h = (mix32(h ^ text.charCodeAt(i)) + 0x6b43a9b5) >>> 0;
    h = mix32(h ^ 0x2f);
  }
  return h | 0;
}

/** A seeded stream of random numbers (xoroshiro128+ from pure-rand). Never touches Math.random. */
export class Random {
  private readonly rng: RandomGenerator;
  private spareGaussian: number | undefined;

  constructor(seed: number) {
    this.rng = xoroshiro128plus(seed);
  }

  /** A stream for one purpose of a run; see deriveSeed. */
  static for(seed: number, ...path: Array<string | number>): Random {
    return new Random(deriveSeed(seed, ...path));
  }

  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.rng);
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** Fisher–Yates, returning a new array. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  gaussian(): number {
    if (this.spareGaussian !== undefined) {
      const spare = this.spareGaussian;
      this.spareGaussian = undefined;
      return spare;
    }
    const u = 1 - this.next(); // (0, 1]: log(0) would be -Infinity
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareGaussian = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * Normal noise with standard deviation sigma, cut at ±limit·sigma. Bounded noise is what lets
   * a healthy line stay inside ANSI Range A on every one of millions of readings.
   */
  boundedGaussian(sigma: number, limit = 3): number {
    const z = this.gaussian();
    return sigma * Math.max(-limit, Math.min(limit, z));
  }
}
