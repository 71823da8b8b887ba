import { DDSketch } from '@datadog/sketches-js';

/**
 * Mergeable quantile sketches for the KPI rollups: Datadog's DDSketch (@datadog/sketches-js),
 * whose every bin holds the values within a relative distance of its representative value.
 * Any order statistic read from a sketch is within SKETCH_RELATIVE_ACCURACY of the true one,
 * however many sketches were merged into it; counts are exact.
 *
 * Stored form: the library's protobuf form writes every bin between the lowest and the highest
 * (about 4 KB for a few dozen durations) and needs protobufjs at run time, so cells keep the
 * non-empty bins only, as (key, count) pairs of the library's own index mapping; merging is
 * adding the pairs into one sketch's stores. The mapping depends only on the accuracy, which
 * is therefore part of the stored form's meaning: changing it needs the rollups rebuilt.
 */
export const SKETCH_RELATIVE_ACCURACY = 0.01;

export const newSketch = (): DDSketch => new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });

export function sketchOf(values: Iterable<number>): DDSketch {
  const sketch = newSketch();
  for (const value of values) sketch.accept(value);
  return sketch;
}

type Store = DDSketch['store'];

function storePairs(store: Store): number[] {
  const pairs: number[] = [];
  for (let i = 0; i < store.bins.length; i++) {
    const count = store.bins[i]!;
    if (count > 0) pairs.push(i + store.offset, count);
  }
  return pairs;
}

/** Several sketches in one buffer: per sketch, zero count, then positive and negative (key, count) pairs. */
export function encodeSketches(sketches: readonly DDSketch[]): Buffer {
  const words: number[] = [sketches.length];
  for (const sketch of sketches) {
    const positive = storePairs(sketch.store);
    const negative = storePairs(sketch.negativeStore);
    words.push(sketch.zeroCount, positive.length / 2, ...positive, negative.length / 2, ...negative);
  }
  const buffer = Buffer.allocUnsafe(words.length * 4);
  for (let i = 0; i < words.length; i++) buffer.writeInt32LE(words[i]!, i * 4);
  return buffer;
}

/** Adds every encoded sketch of `buffer` into the sketch at the same position of `into`. */
export function mergeEncodedSketches(buffer: Uint8Array, into: readonly DDSketch[]): void {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let at = 0;
  const next = () => {
    const word = view.getInt32(at, true);
    at += 4;
    return word;
  };
  const sketches = next();
  if (sketches !== into.length) throw new Error(`encoded sketches: expected ${into.length}, found ${sketches}`);
  for (const sketch of into) {
    const zeros = next();
    sketch.zeroCount += zeros;
    let total = zeros;
    for (const store of [sketch.store, sketch.negativeStore]) {
      const pairs = next();
      for (let i = 0; i < pairs; i++) {
        const key = next();
        const count = next();
        store.add(key, count);
        total += count;
      }
    }
    sketch.count += total;
  }
}

/** Adds `from` into `into` (both built with SKETCH_RELATIVE_ACCURACY). */
export function mergeSketch(into: DDSketch, from: DDSketch): void {
  if (from.count > 0) into.merge(from);
}

/** The value of rank k (0-based, ascending) as the sketch knows it, within its relative accuracy. */
function valueAtRank(sketch: DDSketch, k: number): number {
  const n = sketch.count;
  // The library reads rank q·(n-1) and takes the bin where the running count exceeds it: asking
  // for k + 0.5 lands on the k-th value whatever the floating-point rounding of the division.
  return sketch.getValueAtQuantile(n === 1 ? 0 : Math.min(1, (k + 0.5) / (n - 1)));
}

/**
 * The q-quantile the way Postgres' percentile_cont computes it (linear interpolation between
 * the order statistics at ⌊q·(n-1)⌋ and ⌈q·(n-1)⌉), from the sketch: both ends are within the
 * relative accuracy of the true ones, so the answer is within it of the exact percentile_cont.
 * Null for an empty sketch.
 */
export function sketchPercentile(sketch: DDSketch, q: number): number | null {
  const n = sketch.count;
  if (n === 0) return null;
  const rank = q * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const low = valueAtRank(sketch, lo);
  if (hi === lo) return low;
  return low + (rank - lo) * (valueAtRank(sketch, hi) - low);
}
