import { describe, expect, it } from 'vitest';
import { capAfterWork, handleTimeOf } from '../../../../src/domain/figures/handle-time.js';
import { clip, intersect, mergeIntervals, subtract, totalMs } from '../../../../src/domain/figures/intervals.js';

const m = (minutes: number) => minutes * 60_000;
const iv = (a: number, b: number) => ({ start: m(a), end: m(b) });

describe('intervals', () => {
  it('merges overlapping and touching intervals, drops empty ones, in any order', () => {
    // 0-10 and 5-15 overlap → 0-15; 15-20 touches → 0-20; 30-40 apart; 50-50 empty.
    expect(mergeIntervals([iv(30, 40), iv(5, 15), iv(0, 10), iv(15, 20), iv(50, 50)])).toEqual([iv(0, 20), iv(30, 40)]);
    expect(totalMs(mergeIntervals([iv(30, 40), iv(5, 15), iv(0, 10), iv(15, 20)]))).toBe(m(30));
  });
  it('a contained interval adds nothing', () => {
    expect(mergeIntervals([iv(0, 60), iv(10, 20), iv(30, 45)])).toEqual([iv(0, 60)]);
  });
  it('clips, intersects and subtracts', () => {
    expect(clip([iv(0, 10), iv(20, 30)], m(5), m(25))).toEqual([iv(5, 10), iv(20, 25)]);
    expect(intersect([iv(0, 10), iv(20, 30)], [iv(5, 25)])).toEqual([iv(5, 10), iv(20, 25)]);
    // 0-30 minus 5-10 and 20-25 → 0-5, 10-20, 25-30.
    expect(subtract([iv(0, 30)], [iv(5, 10), iv(20, 25)])).toEqual([iv(0, 5), iv(10, 20), iv(25, 30)]);
    expect(subtract([iv(0, 10), iv(20, 30)], [iv(0, 40)])).toEqual([]);
  });
});

describe('handle time of a ticket', () => {
  it('merges one agent’s overlapping work, never counting a second twice', () => {
    // Agent A: handling 0-10 and 5-20 (overlap 5 min) → 20 min; after-work 18-25 overlaps handling
    // until 20 → 5 min of after-work. Agent B: handling 0-6 → 6 min (another person's time counts).
    const t = handleTimeOf([
      { agentId: 'A', kind: 'handling', ...iv(0, 10) },
      { agentId: 'A', kind: 'handling', ...iv(5, 20) },
      { agentId: 'A', kind: 'after_work', ...iv(18, 25) },
      { agentId: 'B', kind: 'handling', ...iv(0, 6) },
    ]);
    expect(t).toEqual({ handlingSec: 26 * 60, afterWorkSec: 5 * 60 });
  });
  it('caps after-work at the channel maximum, and leaves handling alone', () => {
    expect(capAfterWork({ kind: 'after_work' as const, ...iv(0, 10) }, 180)).toEqual({ kind: 'after_work', start: 0, end: 180_000 });
    expect(capAfterWork({ kind: 'handling' as const, ...iv(0, 10) }, 180)).toEqual({ kind: 'handling', ...iv(0, 10) });
  });
});
