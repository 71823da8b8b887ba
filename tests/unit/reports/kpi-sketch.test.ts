import { describe, expect, it } from 'vitest';
import { encodeSketches, mergeEncodedSketches, newSketch, SKETCH_RELATIVE_ACCURACY, sketchOf, sketchPercentile } from '../../../src/modules/reports/kpi-sketch.js';

/** Postgres' percentile_cont: linear interpolation between the order statistics around q·(n-1). */
function percentileCont(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = q * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (rank - lo) * (sorted[hi]! - sorted[lo]!);
}

let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

describe('KPI sketches', () => {
  it('answer percentile_cont within the relative accuracy, for small and large samples, zeros included', () => {
    for (const n of [1, 2, 3, 5, 10, 101, 5000]) {
      const values = Array.from({ length: n }, () => (random() < 0.05 ? 0 : Math.floor(1 + random() ** 3 * 300_000)));
      const sketch = sketchOf(values);
      for (const q of [0.5, 0.9]) {
        const exact = percentileCont(values, q);
        expect(Math.abs(sketchPercentile(sketch, q)! - exact), `n=${n} q=${q}`).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY * exact + 1e-9);
      }
    }
    expect(sketchPercentile(newSketch(), 0.5)).toBeNull();
  });

  it('interpolate between two values as percentile_cont does (a median of 1800 and 3600 is 2700)', () => {
    const median = sketchPercentile(sketchOf([1800, 3600]), 0.5)!;
    expect(Math.abs(median - 2700)).toBeLessThanOrEqual(27);
  });

  it('merge from their stored form exactly as the sketches they were encoded from', () => {
    const parts = [0, 1, 2].map(() => Array.from({ length: 200 }, () => random() * 100_000 - (random() < 0.02 ? 50 : 0)));
    const stored = parts.map((values) => encodeSketches([sketchOf(values), sketchOf(values.map((v) => v * 2))]));
    const merged = [newSketch(), newSketch()];
    for (const buffer of stored) mergeEncodedSketches(buffer, merged);
    const all = parts.flat();
    expect(merged[0]!.count).toBe(600);
    const whole = sketchOf(all);
    for (const q of [0, 0.1, 0.5, 0.9, 1]) {
      expect(sketchPercentile(merged[0]!, q)).toBe(sketchPercentile(whole, q));
      expect(sketchPercentile(merged[1]!, q)).toBe(sketchPercentile(sketchOf(all.map((v) => v * 2)), q));
    }
  });

  it('keep a few dozen durations in a few hundred bytes', () => {
    const buffer = encodeSketches([sketchOf(Array.from({ length: 50 }, () => 60 + random() * 200_000))]);
    expect(buffer.length).toBeLessThan(50 * 8 + 16);
  });

  it('refuse a stored form with another number of sketches', () => {
    expect(() => mergeEncodedSketches(encodeSketches([newSketch()]), [newSketch(), newSketch()])).toThrow(/expected 2/);
  });
});
