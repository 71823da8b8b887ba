/**
 * One line of the results table. Every product figure stands beside its baseline from the
 * same run and their ratio (product / baseline): machines are noisy, ratios travel.
 */
export type Verdict = 'ok' | 'FAIL' | 'info' | 'not built yet' | 'ERROR';

/** A target as data (so latest.json carries it), checked against the product figure or the ratio. */
export type Target =
  | { kind: 'ratio-at-least'; value: number }
  | { kind: 'ratio-at-most'; value: number }
  | { kind: 'below'; value: number; unit: string }
  | { kind: 'at-least'; value: number; unit: string }
  | { kind: 'equals'; value: number | string };

export interface Row {
  benchmark: string;
  metric: string;
  unit: string;
  product: number | string | null;
  baseline: number | string | null;
  ratio: number | null;
  target: Target | null;
  verdict: Verdict;
  note?: string | undefined;
}

export interface RowInput {
  benchmark: string;
  metric: string;
  unit?: string;
  product: number | string | null;
  baseline?: number | string | null;
  target?: Target | null;
  note?: string | undefined;
  /** Problems that make the figure untrustworthy (non-2xx answers, a truncated run): verdict FAIL. */
  problems?: string[];
}

export function targetText(target: Target | null): string {
  if (!target) return '';
  switch (target.kind) {
    case 'ratio-at-least':
      return `ratio >= ${target.value}`;
    case 'ratio-at-most':
      return `ratio <= ${target.value}`;
    case 'below':
      return `< ${target.value} ${target.unit}`;
    case 'at-least':
      return `>= ${target.value} ${target.unit}`;
    case 'equals':
      return `= ${target.value}`;
  }
}

function meets(target: Target, product: number | string, ratio: number | null): boolean {
  switch (target.kind) {
    case 'ratio-at-least':
      return ratio !== null && ratio >= target.value;
    case 'ratio-at-most':
      return ratio !== null && ratio <= target.value;
    case 'below':
      return typeof product === 'number' && product < target.value;
    case 'at-least':
      return typeof product === 'number' && product >= target.value;
    case 'equals':
      return product === target.value;
  }
}

export function measured(input: RowInput): Row {
  const baseline = input.baseline ?? null;
  const product = input.product;
  const ratio =
    typeof product === 'number' && typeof baseline === 'number' && Number.isFinite(product) && Number.isFinite(baseline) && baseline !== 0
      ? product / baseline
      : null;
  const target = input.target ?? null;
  const problems = input.problems ?? [];
  let verdict: Verdict;
  if (product === null || (typeof product === 'number' && !Number.isFinite(product))) verdict = 'ERROR';
  else if (problems.length > 0) verdict = 'FAIL';
  else if (!target) verdict = 'info';
  else verdict = meets(target, product, ratio) ? 'ok' : 'FAIL';
  const note = [...problems, ...(input.note ? [input.note] : [])].join('; ') || undefined;
  return { benchmark: input.benchmark, metric: input.metric, unit: input.unit ?? '', product, baseline, ratio, target, verdict, note };
}

/** A row without a product figure: the piece is not built yet, or it failed (ERROR); its baseline may be measured. */
export function unmeasured(input: Omit<RowInput, 'product' | 'problems'>, verdict: 'not built yet' | 'ERROR' = 'not built yet'): Row {
  return {
    benchmark: input.benchmark,
    metric: input.metric,
    unit: input.unit ?? '',
    product: null,
    baseline: input.baseline ?? null,
    ratio: null,
    target: input.target ?? null,
    verdict,
    note: input.note,
  };
}

/** A row for a product piece that does not exist yet. */
export const notBuilt = (input: Omit<RowInput, 'product' | 'problems'>): Row => unmeasured(input, 'not built yet');

/** The row a benchmark leaves when it crashed, so the table says so instead of going quiet. */
export function crashed(benchmark: string, error: unknown): Row {
  const message = error instanceof Error ? error.message : String(error);
  return { benchmark, metric: 'run', unit: '', product: null, baseline: null, ratio: null, target: null, verdict: 'ERROR', note: message.split('\n')[0] };
}
