import { describe, expect, it } from 'vitest';
import { agentFigures, presenceIntervals, sumFigures } from '../../../../src/domain/figures/occupancy.js';
import { combinedServiceLevel, countQueueCalls, queueFigures, type QueueCall } from '../../../../src/domain/figures/service-level.js';
import { DEFAULT_FIGURE_SETTINGS, parsePerChannel } from '../../../../src/domain/figures/settings.js';
import { average, inScale, npsCounts, npsScore } from '../../../../src/domain/figures/surveys.js';

const h = (hours: number) => hours * 3_600_000;
const iv = (a: number, b: number) => ({ start: h(a), end: h(b) });

describe('phone queue', () => {
  // Threshold 20 s, short abandon 5 s. Offered 10: answered at 5, 10, 20 (within), 30, 60 (late);
  // abandoned at 2, 4 (short), 25, 40, 90.
  const calls: QueueCall[] = [...[5, 10, 20, 30, 60].map((waitSec) => ({ outcome: 'answered' as const, waitSec })), ...[2, 4, 25, 40, 90].map((waitSec) => ({ outcome: 'abandoned' as const, waitSec }))];
  const counts = countQueueCalls(calls, { serviceLevelSec: 20, shortAbandonSec: 5 });
  it('counts calls, short abandons excluded from the denominators', () => {
    expect(counts).toEqual({ offered: 10, answered: 5, answeredWithin: 3, abandoned: 5, shortAbandoned: 2, answeredWaitSum: 125 });
    // SL = 3 / (10 − 2) = 0.375; ASA = 125 / 5 = 25 s; abandonment = (5 − 2) / (10 − 2) = 0.375.
    expect(queueFigures(counts)).toEqual({ serviceLevel: 0.375, averageSpeedOfAnswerSec: 25, abandonmentRate: 0.375 });
  });
  it('combines with digital first responses; no calls: null', () => {
    // 3 + 6 within over 8 + 12 eligible.
    expect(combinedServiceLevel(counts, { within: 6, total: 12 })).toEqual({ within: 9, eligible: 20, rate: 0.45 });
    expect(queueFigures(countQueueCalls([], { serviceLevelSec: 20, shortAbandonSec: 5 }))).toEqual({ serviceLevel: null, averageSpeedOfAnswerSec: null, abandonmentRate: null });
  });
});

describe('surveys', () => {
  it('NPS with mixed answers', () => {
    // 10, 9, 9 promoters; 8, 7 passives; 6, 3, 0 detractors: 100 × (3 − 3) / 8 = 0; then one more promoter: 100 × 1/9.
    const c = npsCounts([10, 9, 9, 8, 7, 6, 3, 0]);
    expect(c).toEqual({ responded: 8, promoters: 3, passives: 2, detractors: 3 });
    expect(npsScore(c)).toBe(0);
    expect(npsScore(npsCounts([10, 9, 9, 8, 7, 6, 3, 0, 10]))).toBeCloseTo(100 / 9, 10);
    expect(npsScore(npsCounts([6, 9]))).toBe(0);
    expect(npsScore(npsCounts([]))).toBeNull();
  });
  it('CES average and the scales', () => {
    expect(average([7, 5, 6, 2])).toBe(5);
    expect(inScale('ces', 7)).toBe(true);
    expect(inScale('ces', 0)).toBe(false);
    expect(inScale('nps', 0)).toBe(true);
    expect(inScale('nps', 11)).toBe(false);
    expect(inScale('csat', 6)).toBe(false);
    expect(inScale('csat', 2.5)).toBe(false);
  });
});

describe('occupancy across a day with idle gaps', () => {
  // 08:00 online, 12:00 away, 12:30 online, 17:00 offline. Work: 08:30-10:00 and 09:30-11:00
  // (overlap: 2.5 h merged), 13:00-14:00, 16:30-17:30 (half an hour after logging out).
  const day = { from: h(0), to: h(24) };
  const timeline = presenceIntervals(
    'offline',
    [
      { status: 'online', at: h(8) },
      { status: 'away', at: h(12) },
      { status: 'online', at: h(12.5) },
      { status: 'offline', at: h(17) },
    ],
    day.from,
    day.to,
  );
  const work = [iv(8.5, 10), iv(9.5, 11), iv(13, 14), iv(16.5, 17.5)];
  it('logged in, available, handling, idle, occupancy, utilization', () => {
    const f = agentFigures(timeline, work, day.from, day.to);
    // Online 4 + 4.5 = 8.5 h; away 0.5 h; handling 2.5 + 1 + 1 = 4.5 h; idle = online − handling
    // while online = 8.5 − (2.5 + 1 + 0.5) = 4.5 h; occupancy = 4.5 / (4.5 + 4.5) = 0.5;
    // utilization = 4.5 / 9.
    expect(f).toEqual({ loggedInSec: 9 * 3600, availableSec: 8.5 * 3600, awaySec: 0.5 * 3600, handlingSec: 4.5 * 3600, idleSec: 4.5 * 3600, occupancy: 0.5, utilization: 0.5 });
  });
  it('takes the status in force at the start, and sums agents', () => {
    const t = presenceIntervals('online', [{ status: 'offline', at: h(2) }], h(0), h(4));
    expect(t.online).toEqual([iv(0, 2)]);
    const a = agentFigures(t, [iv(1, 2)], h(0), h(4));
    expect(a.occupancy).toBe(0.5);
    const sum = sumFigures([a, agentFigures(timeline, work, day.from, day.to)]);
    // handling 1 + 4.5, idle 1 + 4.5: 0.5.
    expect(sum.handlingSec).toBe(5.5 * 3600);
    expect(sum.occupancy).toBe(0.5);
  });
  it('an agent never online has no occupancy', () => {
    expect(agentFigures(presenceIntervals('offline', [], 0, h(1)), [], 0, h(1)).occupancy).toBeNull();
  });
});

describe('per-channel settings', () => {
  it('one number for all, or channel=seconds over the defaults; bad input names the problem', () => {
    expect(parsePerChannel('30', DEFAULT_FIGURE_SETTINGS.serviceLevelSec)).toEqual({ email: 30, phone: 30, facebook: 30, twitter: 30 });
    expect(parsePerChannel('phone=15, email=3600', DEFAULT_FIGURE_SETTINGS.serviceLevelSec)).toEqual({ email: 3600, phone: 15, facebook: 3600, twitter: 3600 });
    expect(parsePerChannel(undefined, DEFAULT_FIGURE_SETTINGS.serviceLevelSec).phone).toBe(20);
    expect(() => parsePerChannel('fax=3', DEFAULT_FIGURE_SETTINGS.serviceLevelSec)).toThrow(/fax=3/);
    expect(() => parsePerChannel('phone=-1', DEFAULT_FIGURE_SETTINGS.serviceLevelSec)).toThrow(/-1/);
  });
});
