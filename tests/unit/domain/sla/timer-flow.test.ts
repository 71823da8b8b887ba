import { describe, expect, it } from 'vitest';
import { createTimerFlow, FRONTIER_PASSED_MS, JOBS_BEHIND_MS, TIMER_FLOW_MS } from '../../../../src/modules/sla/clocks/timer-flow.js';
import { ManualClock } from '../../../../src/shared/clock.js';

/** The overdue watch's test for "the timer jobs are flowing and will get to this deadline", on hand-moved clocks. */
function setup() {
  const clock = new ManualClock('2026-03-02T10:00:00Z');
  let elapsed = 0;
  const flow = createTimerFlow(clock, () => elapsed);
  const advance = (ms: number) => {
    clock.advance(ms);
    elapsed += ms;
  };
  const ago = (ms: number) => new Date(clock.now().getTime() - ms);
  return { flow, advance, ago, clock, elapse: (ms: number) => (elapsed += ms) };
}

describe('timer flow', () => {
  it('leaves nothing to the jobs before any job ran', () => {
    const { flow, ago } = setup();
    expect(flow.leavesToJobs(ago(30))).toBe(false);
  });

  it('leaves an overdue deadline to jobs that flow and have not gone past it', () => {
    const { flow, advance, ago } = setup();
    // The queue runs 40 ms late: a job due 40 ms ago just finished; a deadline due 30 ms ago is next.
    flow.ran(ago(40));
    advance(10);
    expect(flow.leavesToJobs(ago(30))).toBe(true);
    // Behind the frontier, but by less than FRONTIER_PASSED_MS: its batch may be in flight still.
    expect(flow.leavesToJobs(ago(50 + FRONTIER_PASSED_MS - 1))).toBe(true);
  });

  it('joins jobs that flow but fall behind: a deadline more than JOBS_BEHIND_MS past is swept', () => {
    const { flow, advance, ago } = setup();
    // The queue runs late by more than JOBS_BEHIND_MS and has not reached the deadline yet.
    flow.ran(ago(JOBS_BEHIND_MS + 50));
    advance(10);
    expect(flow.leavesToJobs(ago(JOBS_BEHIND_MS))).toBe(true);
    expect(flow.leavesToJobs(ago(JOBS_BEHIND_MS + 1))).toBe(false);
  });

  it('fires a deadline the jobs went past: its job was lost', () => {
    const { flow, advance, ago } = setup();
    flow.ran(ago(20));
    advance(10);
    expect(flow.leavesToJobs(ago(30 + FRONTIER_PASSED_MS))).toBe(false);
  });

  it('fires again once the jobs stop (a wipe, a dead worker)', () => {
    const { flow, advance, ago } = setup();
    flow.ran(ago(40));
    advance(TIMER_FLOW_MS);
    expect(flow.leavesToJobs(ago(30))).toBe(true);
    advance(1);
    expect(flow.leavesToJobs(ago(30))).toBe(false);
  });

  it('judges the flow by elapsed time, not by a clock moved by hand', () => {
    const { flow, ago, elapse } = setup();
    flow.ran(ago(0));
    // The clock stands still (a test's manual clock), real time goes on: the jobs stopped.
    elapse(TIMER_FLOW_MS + 1);
    expect(flow.leavesToJobs(ago(30))).toBe(false);
  });
});
