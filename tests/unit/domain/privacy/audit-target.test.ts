import { describe, expect, it } from 'vitest';
import { auditTarget } from '../../../../src/domain/privacy/audit-target.js';

const T = '11111111-1111-4111-8111-111111111111';
const C = '22222222-2222-4222-8222-222222222222';
const M = '33333333-3333-4333-8333-333333333333';

describe('auditTarget', () => {
  it('an item route: its row, and the ticket or customer it belongs to', () => {
    expect(auditTarget('/v1/tickets/:id', { id: T }, null, null, false)).toEqual({ resource: `tickets/${T}`, table: 'tickets', rowId: T, kind: 'tickets', ticketId: T, customerId: null });
    expect(auditTarget('/v1/customers/:id/merge', { id: C }, null, null, false)).toMatchObject({ resource: `customers/${C}/merge`, table: 'customers', rowId: C, customerId: C });
  });

  it('a nested item is its own row, under its parent', () => {
    expect(auditTarget('/v1/tickets/:id/commitments/:commitmentId', { id: T, commitmentId: M }, null, null, false)).toMatchObject({
      resource: `tickets/${T}/commitments/${M}`,
      table: 'commitments',
      rowId: M,
      ticketId: T,
    });
  });

  it('a created top-level row is the resource; a created child is named, its parent snapshotted', () => {
    expect(auditTarget('/v1/tickets', {}, null, T, true)).toMatchObject({ resource: `tickets/${T}`, table: 'tickets', rowId: T });
    expect(auditTarget('/v1/sla/policies', {}, null, M, true)).toMatchObject({ resource: `sla/policies/${M}`, table: 'sla_policies', rowId: M });
    expect(auditTarget('/v1/tickets/:id/messages', { id: T }, null, M, true)).toMatchObject({ resource: `tickets/${T}/messages/${M}`, table: 'tickets', rowId: T });
  });

  it("'me' is the calling agent; a route without a known table has no row", () => {
    expect(auditTarget('/v1/me/presence', {}, M, null, false)).toMatchObject({ resource: `agents/${M}/presence`, table: 'agents', rowId: M });
    expect(auditTarget('/v1/routing/settings', {}, null, null, false)).toMatchObject({ resource: 'routing/settings', table: null, rowId: null, kind: 'routing' });
    expect(auditTarget('/v1/tickets/:id', { id: 'not-a-uuid' }, null, null, false)).toMatchObject({ table: null, rowId: null, ticketId: null });
  });
});
