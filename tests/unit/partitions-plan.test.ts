import { describe, expect, it } from 'vitest';
import { monthStart, parseBound, partitionName, planPartitions, type ExistingPartition } from '../../src/modules/maintenance/partitions.plan.js';

const at = (iso: string) => new Date(iso);
const range = (name: string, from: string | null, to: string | null): ExistingPartition => ({ name, isDefault: false, from: from === null ? null : at(from), to: to === null ? null : at(to) });
const DEFAULT: ExistingPartition = { name: 't_default', isDefault: true, from: null, to: null };

describe('month partitions: the plan', () => {
  it('counts months in UTC across a year end', () => {
    expect(monthStart(at('2026-12-31T23:59:59.999Z'), 1).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(monthStart(at('2027-01-01T00:00:00.000Z'), -1).toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(partitionName('ticket_events', at('2027-03-01T00:00:00Z'))).toBe('ticket_events_p2027_03');
  });

  it('creates the current month and the months ahead that nothing covers yet', () => {
    const existing = [DEFAULT, range('t_legacy', null, '2027-01-01T00:00:00Z'), range('t_p2027_02', '2027-02-01T00:00:00Z', '2027-03-01T00:00:00Z')];
    const plan = planPartitions('t', existing, at('2026-12-15T10:00:00Z'), 3, null);
    expect(plan.create.map((r) => r.name)).toEqual(['t_p2027_01', 't_p2027_03']);
    expect(plan.create[0]).toMatchObject({ from: at('2027-01-01T00:00:00Z'), to: at('2027-02-01T00:00:00Z') });
    expect(plan.drop).toEqual([]);
  });

  it('drops only partitions that end at or before the cut-off, never the default', () => {
    const existing = [DEFAULT, range('t_legacy', null, '2027-01-01T00:00:00Z'), range('t_p2027_01', '2027-01-01T00:00:00Z', '2027-02-01T00:00:00Z'), range('t_p2027_02', '2027-02-01T00:00:00Z', '2027-03-01T00:00:00Z')];
    expect(planPartitions('t', existing, at('2027-03-10T00:00:00Z'), 0, at('2027-02-01T00:00:00Z')).drop).toEqual(['t_legacy', 't_p2027_01']);
    expect(planPartitions('t', existing, at('2027-03-10T00:00:00Z'), 0, at('2027-01-31T23:59:59Z')).drop).toEqual(['t_legacy']);
  });

  it('reads the bounds Postgres prints under TimeZone UTC', () => {
    expect(parseBound('p', "FOR VALUES FROM ('2027-01-01 00:00:00+00') TO ('2027-02-01 00:00:00+00')")).toEqual(range('p', '2027-01-01T00:00:00Z', '2027-02-01T00:00:00Z'));
    expect(parseBound('l', "FOR VALUES FROM (MINVALUE) TO ('2027-01-01 00:00:00+00')")).toEqual(range('l', null, '2027-01-01T00:00:00Z'));
    expect(parseBound('d', 'DEFAULT')).toEqual({ name: 'd', isDefault: true, from: null, to: null });
    expect(() => parseBound('x', "FOR VALUES IN ('a')")).toThrow(/unexpected partition bound/);
  });
});
