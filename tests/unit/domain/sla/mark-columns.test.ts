import { describe, expect, it } from 'vitest';
import { applySlaEvent, markBreached, markWarned } from '../../../../src/domain/sla/sla-clocks.js';
import type { SlaClock } from '../../../../src/domain/sla/sla.types.js';
import { after, HOUR, policy, T0 } from './sla-fixtures.js';

/**
 * The timer worker's batch UPDATE (src/modules/sla/clocks/sla.firing.ts, stateOf) writes only the
 * columns that marking a clock warned or breached changes. If the engine ever changes more,
 * this fails before a batch silently drops the difference.
 */
const changedKeys = (before: SlaClock, after: SlaClock) => (Object.keys(after) as (keyof SlaClock)[]).filter((k) => after[k] !== before[k]).sort();

describe('marking a clock', () => {
  const ticket = { channel: 'email' as const, priority: 'normal' as const, teamId: null, status: 'new' as const };
  const [clock] = applySlaEvent([], { type: 'ticket_created', at: T0 }, policy({ targets: { firstResponse: HOUR } }), ticket);

  it('warned changes warnedAt only', () => {
    expect(changedKeys(clock!, markWarned(clock!, after(HOUR / 2)))).toEqual(['warnedAt']);
  });

  it('breached changes state and breachedAt only', () => {
    expect(changedKeys(clock!, markBreached(clock!, after(HOUR)))).toEqual(['breachedAt', 'state']);
  });
});
