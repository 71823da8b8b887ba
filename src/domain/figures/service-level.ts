/**
 * Phone queue figures (issue 16), pure. Each call offered to the queue ends answered (after
 * `waitSec` in the queue) or abandoned (the caller hung up after `waitSec`).
 *   service level = answered within the threshold / (offered − abandoned within the short-abandon threshold)
 *   average speed of answer = mean wait of answered calls
 *   abandonment rate = abandoned (short ones excluded) / (offered − short abandons)
 * A short abandon (a caller who hung up within SHORT_ABANDON_SEC: a wrong number, a change of
 * mind) is left out of both denominators. "Within" is inclusive: a call answered at exactly
 * the threshold is in. Ratios without a denominator are null.
 */
export interface QueueCall {
  outcome: 'answered' | 'abandoned';
  waitSec: number;
}

export interface QueueCounts {
  offered: number;
  answered: number;
  answeredWithin: number;
  abandoned: number;
  shortAbandoned: number;
  answeredWaitSum: number;
}

export interface QueueThresholds {
  serviceLevelSec: number;
  shortAbandonSec: number;
}

export const emptyQueueCounts = (): QueueCounts => ({ offered: 0, answered: 0, answeredWithin: 0, abandoned: 0, shortAbandoned: 0, answeredWaitSum: 0 });

export function countQueueCalls(calls: readonly QueueCall[], t: QueueThresholds): QueueCounts {
  const c = emptyQueueCounts();
  for (const call of calls) {
    c.offered++;
    if (call.outcome === 'answered') {
      c.answered++;
      c.answeredWaitSum += call.waitSec;
      if (call.waitSec <= t.serviceLevelSec) c.answeredWithin++;
    } else {
      c.abandoned++;
      if (call.waitSec <= t.shortAbandonSec) c.shortAbandoned++;
    }
  }
  return c;
}

const ratio = (num: number, den: number): number | null => (den === 0 ? null : num / den);

export function queueFigures(c: QueueCounts): { serviceLevel: number | null; averageSpeedOfAnswerSec: number | null; abandonmentRate: number | null } {
  const eligible = c.offered - c.shortAbandoned;
  return {
    serviceLevel: ratio(c.answeredWithin, eligible),
    averageSpeedOfAnswerSec: ratio(c.answeredWaitSum, c.answered),
    abandonmentRate: ratio(c.abandoned - c.shortAbandoned, eligible),
  };
}

/**
 * Service level over phone and digital channels together: the phone queue's answered-within
 * and eligible calls, plus digital first responses within their channel's threshold out of all
 * first responses, one fraction.
 */
export function combinedServiceLevel(phone: QueueCounts, digital: { within: number; total: number }): { within: number; eligible: number; rate: number | null } {
  const within = phone.answeredWithin + digital.within;
  const eligible = phone.offered - phone.shortAbandoned + digital.total;
  return { within, eligible, rate: ratio(within, eligible) };
}
