import { mergeIntervals, subtract, totalMs, type Interval } from './intervals.js';

/**
 * Handle time of one ticket from its work intervals (issue 16): handling (talking, writing,
 * calls logged with their duration) plus after-work (wrap-up). Per agent, overlapping intervals
 * of one kind are merged, and after-work that overlaps the same agent's handling counts as
 * handling only: no second of one agent is counted twice. Different agents working the ticket
 * at once each count (two people's time). Pure.
 */
export type WorkKind = 'handling' | 'after_work';
export const WORK_KINDS = ['handling', 'after_work'] as const;

export interface WorkInterval extends Interval {
  agentId: string;
  kind: WorkKind;
}

export interface HandleTime {
  handlingSec: number;
  afterWorkSec: number;
}

export function handleTimeOf(intervals: readonly WorkInterval[]): HandleTime {
  const byAgent = new Map<string, WorkInterval[]>();
  for (const i of intervals) {
    const list = byAgent.get(i.agentId) ?? [];
    list.push(i);
    byAgent.set(i.agentId, list);
  }
  let handling = 0;
  let afterWork = 0;
  for (const list of byAgent.values()) {
    const h = mergeIntervals(list.filter((i) => i.kind === 'handling'));
    const a = subtract(mergeIntervals(list.filter((i) => i.kind === 'after_work')), h);
    handling += totalMs(h);
    afterWork += totalMs(a);
  }
  return { handlingSec: handling / 1000, afterWorkSec: afterWork / 1000 };
}

/** An after-work period counts at most `maxSec` from its start (AFTER_WORK_MAX_SEC of the ticket's channel). */
export function capAfterWork<T extends Interval & { kind: WorkKind }>(interval: T, maxSec: number): T {
  if (interval.kind !== 'after_work') return interval;
  return { ...interval, end: Math.min(interval.end, interval.start + maxSec * 1000) };
}
