import { describe, expect, it } from 'vitest';
import { auditAction, bodyFields, changedFields, fieldClass } from '../../../../src/domain/privacy/personal-fields.js';

describe('fieldClass', () => {
  it("hides a customer's personal columns and every secret, keeps staff tables' values", () => {
    expect(fieldClass('customers', 'name')).toBe('personal');
    expect(fieldClass('tickets', 'subject')).toBe('personal');
    expect(fieldClass('tickets', 'priority')).toBe('plain');
    expect(fieldClass('messages', 'body_text')).toBe('personal');
    expect(fieldClass('teams', 'name')).toBe('plain');
    expect(fieldClass('api_keys', 'hash')).toBe('secret');
    expect(fieldClass('webhook_subscriptions', 'previous_secret')).toBe('secret');
    expect(fieldClass('tickets', 'updated_at')).toBe('ignored');
  });

  it('guesses for tables it does not know, erring on the side of hiding', () => {
    expect(fieldClass('mailboxes', 'display_name')).toBe('personal');
    expect(fieldClass('mailboxes', 'host')).toBe('plain');
    expect(fieldClass('mailboxes', 'password_ciphertext')).toBe('secret');
  });
});

describe('changedFields', () => {
  it('lists changed columns only, with values when plain and without when personal or secret', () => {
    const before = { id: 't1', priority: 'normal', subject: 'Old', version: 1, tags: ['a'] };
    const after = { id: 't1', priority: 'high', subject: 'New', version: 2, tags: ['a'] };
    expect(changedFields('tickets', before, after)).toEqual({ priority: { before: 'normal', after: 'high' }, subject: { changed: true, redacted: 'personal' } });
  });

  it('a created row lists its non-null fields as after; a deleted row as before', () => {
    expect(changedFields('teams', null, { id: 'x', name: 'Billing', lead_agent_id: null })).toEqual({ id: { after: 'x' }, name: { after: 'Billing' } });
    expect(changedFields('teams', { id: 'x', name: 'Billing' }, null)).toEqual({ id: { before: 'x' }, name: { before: 'Billing' } });
  });

  it('compares JSON values by content', () => {
    expect(changedFields('teams', { capacity: { email: 3 } }, { capacity: { email: 3 } })).toEqual({});
  });
});

describe('bodyFields', () => {
  it('names the fields sent, with plain scalar values only', () => {
    expect(bodyFields('routing_settings', { order: 'sla', stickyDays: 3, nested: { a: 1 }, secretToken: 'x' })).toEqual({
      nested: { changed: true, redacted: 'personal' },
      order: { after: 'sla' },
      secretToken: { changed: true, redacted: 'secret' },
      stickyDays: { after: 3 },
    });
  });
});

describe('auditAction', () => {
  it.each([
    ['POST', '/v1/tickets', 'tickets.create'],
    ['PATCH', '/v1/tickets/:id', 'tickets.update'],
    ['DELETE', '/v1/teams/:id', 'teams.delete'],
    ['POST', '/v1/tickets/:id/merge', 'tickets.merge'],
    ['POST', '/v1/tickets/:id/messages', 'tickets.messages.create'],
    ['PUT', '/v1/routing/settings', 'routing.settings.update'],
    ['POST', '/v1/customers/:id/identities/:identityId/confirm', 'customers.identities.confirm'],
    ['POST', '/v1/customers/:id/erase', 'customers.erase'],
    ['POST', '/v1/sla/policies', 'sla.policies.create'],
    ['POST', '/v1/blocklist', 'blocklist.create'],
    ['POST', '/v1/me/next', 'me.next'],
  ])('%s %s is %s', (method, route, action) => {
    expect(auditAction(method, route)).toBe(action);
  });
});
