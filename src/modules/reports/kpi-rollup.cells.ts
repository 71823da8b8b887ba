import type { DDSketch } from '@datadog/sketches-js';
import { SLA_METRICS, type SlaMetric } from '../../domain/sla/sla.types.js';
import { contactFigures, type Distribution, type KpiFigures, type SlaFigure } from './kpi.queries.js';
import { mergeEncodedSketches, mergeSketch, newSketch, sketchPercentile } from './kpi-sketch.js';

/**
 * A cell: every KPI fact of one group over some hours, in mergeable form. Counters and sums
 * add up exactly; the four duration distributions are sketches (kpi-sketch.ts). A report is
 * the merge of the cells of its hours, per group (kpi-rollup.report.ts). Pure: no I/O.
 */
export const SKETCHES = ['frtCal', 'frtBiz', 'resCal', 'resBiz', 'handle'] as const;

const slaKey = (metric: SlaMetric, state: 'met' | 'breached') => `sla_${metric}_${state}`;

export const COUNTERS = [
  'created',
  /** Tickets done (solved or closed, whichever first): backlog = running created − done. */
  'done',
  'solved',
  'reopened',
  'handoffs',
  'fcrYes',
  'fcrNo',
  'breaches',
  'csatOffered',
  'csatResponded',
  'csatScoreSum',
  'commitmentsKept',
  'commitmentsBroken',
  /** Open commitments due before the cell's "now" (for stored hours: before the hour ended). */
  'commitmentsOverdue',
  /** Open commitments not due yet: counted nowhere, but they make the group appear. */
  'commitmentsPending',
  // Issue 16: handle time (the 'handle' sketch), digital service level, the phone queue, CES, NPS, redress ("redress:<currency>" sums added as found).
  'handlingSum',
  'afterWorkSum',
  'frtWithin',
  'frtJudged',
  'qOffered',
  'qAnswered',
  'qWithin',
  'qAbandoned',
  'qShort',
  'qWaitSum',
  'cesOffered',
  'cesResponded',
  'cesScoreSum',
  'npsOffered',
  'npsResponded',
  'npsPromoters',
  'npsPassives',
  'npsDetractors',
  'redressCount',
  ...SKETCHES.flatMap((s) => [`${s}N`, `${s}Sum`]),
  ...SLA_METRICS.flatMap((m) => [slaKey(m, 'met'), slaKey(m, 'breached')]),
] as const;

export interface Cell {
  counts: Record<string, number>;
  sketches: DDSketch[];
}

export const emptyCell = (): Cell => ({ counts: Object.fromEntries(COUNTERS.map((c) => [c, 0])), sketches: SKETCHES.map(() => newSketch()) });

export function addCounts(into: Cell, counts: Record<string, number>): void {
  for (const [key, value] of Object.entries(counts)) into.counts[key] = (into.counts[key] ?? 0) + value;
}

export function mergeCell(into: Cell, from: Cell): void {
  addCounts(into, from.counts);
  from.sketches.forEach((s, i) => mergeSketch(into.sketches[i]!, s));
}

/** Merges a stored row (counts and encoded sketches) into a cell. */
export function mergeStored(into: Cell, counts: Record<string, number>, sketches: Uint8Array): void {
  addCounts(into, counts);
  mergeEncodedSketches(sketches, into.sketches);
}

/** Whether the exact statement would have a fact row for this group (it lists only those). */
export function hasFacts(cell: Cell): boolean {
  const kinds = ['created', 'solved', 'frtCalN', 'breaches', 'csatOffered', 'commitmentsKept', 'commitmentsBroken', 'commitmentsOverdue', 'commitmentsPending', 'qOffered', 'cesOffered', 'npsOffered'];
  const sla = SLA_METRICS.flatMap((m) => [slaKey(m, 'met'), slaKey(m, 'breached')]);
  return [...kinds, ...sla].some((name) => (cell.counts[name] ?? 0) > 0);
}

const ratio = (num: number, den: number): number | null => (den === 0 ? null : num / den);

function distribution(cell: Cell, index: number): Distribution {
  const name = SKETCHES[index]!;
  const count = cell.counts[`${name}N`] ?? 0;
  const sketch = cell.sketches[index]!;
  return {
    count,
    median: count === 0 ? null : sketchPercentile(sketch, 0.5),
    p90: count === 0 ? null : sketchPercentile(sketch, 0.9),
    avg: ratio(cell.counts[`${name}Sum`] ?? 0, count),
  };
}

/** The report's figures of a merged cell, with the backlog worked out by the caller. */
export function figuresOf(cell: Cell, backlogAtEnd: number): KpiFigures {
  const c = (name: string): number => cell.counts[name] ?? 0;
  const sla = Object.fromEntries(
    SLA_METRICS.map((m): [SlaMetric, SlaFigure] => {
      const met = c(slaKey(m, 'met'));
      const breached = c(slaKey(m, 'breached'));
      return [m, { met, breached, compliance: ratio(met, met + breached) }];
    }),
  ) as Record<SlaMetric, SlaFigure>;
  const [kept, broken, overdue] = [c('commitmentsKept'), c('commitmentsBroken'), c('commitmentsOverdue')];
  return {
    createdCount: c('created'),
    solvedCount: c('solved'),
    backlogAtEnd,
    firstResponse: { calendar: distribution(cell, 0), business: distribution(cell, 1) },
    resolution: { calendar: distribution(cell, 2), business: distribution(cell, 3) },
    sla,
    breaches: c('breaches'),
    fcr: { yes: c('fcrYes'), no: c('fcrNo'), rate: ratio(c('fcrYes'), c('fcrYes') + c('fcrNo')) },
    csat: { average: ratio(c('csatScoreSum'), c('csatResponded')), offered: c('csatOffered'), responded: c('csatResponded'), responseRate: ratio(c('csatResponded'), c('csatOffered')) },
    reopenRate: ratio(c('reopened'), c('solved')),
    handoffsPerTicket: ratio(c('handoffs'), c('solved')),
    commitments: { kept, broken, overdue, keptRate: ratio(kept, kept + broken + overdue) },
    ...contactFigures({
      handle: { ...distribution(cell, 4), handlingAvg: ratio(c('handlingSum'), c('handleN')), afterWorkAvg: ratio(c('afterWorkSum'), c('handleN')) },
      digital: { within: c('frtWithin'), total: c('frtJudged') },
      queue: { offered: c('qOffered'), answered: c('qAnswered'), answeredWithin: c('qWithin'), abandoned: c('qAbandoned'), shortAbandoned: c('qShort'), answeredWaitSum: c('qWaitSum') },
      ces: { offered: c('cesOffered'), responded: c('cesResponded'), sum: c('cesScoreSum') },
      nps: { offered: c('npsOffered'), responded: c('npsResponded'), promoters: c('npsPromoters'), passives: c('npsPassives'), detractors: c('npsDetractors') },
      redress: {
        count: c('redressCount'),
        sums: Object.keys(cell.counts)
          .filter((k) => k.startsWith('redress:'))
          .sort()
          .map((k) => ({ currency: k.slice('redress:'.length), amount: Math.round(c(k) * 10_000) / 10_000 })),
      },
    }),
  };
}
