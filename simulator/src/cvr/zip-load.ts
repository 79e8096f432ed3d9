/**
 * ZIP load model: the power a line's load draws at voltage V, relative to what it draws at its
 * normal voltage V₀, is  P/P₀ = Z·(V/V₀)² + I·(V/V₀) + P  with Z + I + P = 1 (constant
 * impedance, current and power shares). Its elasticity at V₀, d ln P / d ln V = 2Z + I, is the
 * line's CVR factor.
 */
export interface ZipComposition {
  z: number;
  i: number;
  p: number;
}

/** Constant-current share used to build a composition from a factor (motors and electronics make up the rest). */
const CURRENT_SHARE = 0.3;

/** A composition with CVR factor `factor` (0–1.7): I = min(0.3, factor), Z = (factor − I)/2, P the rest. */
export function zipForFactor(factor: number): ZipComposition {
  if (!(factor >= 0 && factor <= 1.7)) throw new RangeError(`a CVR factor must be 0–1.7 for a ZIP composition, got ${factor}`);
  const i = Math.min(CURRENT_SHARE, factor);
  const z = (factor - i) / 2;
  return { z, i, p: 1 - z - i };
}

/** P/P₀ at voltage ratio v = V/V₀. */
export function zipPowerRatio(zip: ZipComposition, v: number): number {
  return zip.z * v * v + zip.i * v + zip.p;
}

/** The composition's CVR factor, 2Z + I. */
export function zipFactor(zip: ZipComposition): number {
  return 2 * zip.z + zip.i;
}
