/*
 * Which table a route's resource lives in, so the audit trail can read the row before and after
 * a write and record what changed. Keyed by the route segment that names the resource; a route
 * whose resource is not listed is still audited, with the names of the fields it was sent.
 */
const TABLE_OF_SEGMENT: Record<string, string> = {
  tickets: 'tickets',
  messages: 'messages',
  commitments: 'commitments',
  customers: 'customers',
  identities: 'customer_identities',
  agents: 'agents',
  me: 'agents',
  teams: 'teams',
  'api-keys': 'api_keys',
  calendars: 'calendars',
  policies: 'sla_policies',
  breaches: 'breaches',
  templates: 'templates',
  'kpi-targets': 'kpi_targets',
  alarms: 'alarms',
  blocklist: 'blocklist_entries',
  outbox: 'outbox',
  'webhook-subscriptions': 'webhook_subscriptions',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AuditTarget {
  /** "tickets/<id>", "tickets/<id>/messages/<id>", "routing/settings". */
  resource: string;
  /** The row to snapshot before and after, when its table is known and it has a uuid id. */
  table: string | null;
  rowId: string | null;
  /** The table name used to classify fields when there is no row (the body is recorded instead). */
  kind: string;
  /** The route's leading ticket or customer, to find the customer the write is about. */
  ticketId: string | null;
  customerId: string | null;
}

/**
 * The resource a write addresses, from its route pattern and parameters. `createdId` is the id in
 * the answer of a POST that created something (known only after the handler ran).
 */
export function auditTarget(route: string, params: Record<string, string>, agentId: string | null, createdId: string | null, creates: boolean): AuditTarget {
  const segments = route.replace(/^\/v1\//, '').split('/').filter(Boolean);
  const parts: string[] = [];
  let table: string | null = null;
  let rowId: string | null = null;
  let kind = segments[0] ?? '';
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.startsWith(':')) {
      const value = params[segment.slice(1)] ?? '';
      parts.push(value);
      const owner = segments[i - 1] ?? '';
      table = TABLE_OF_SEGMENT[owner] ?? null;
      rowId = UUID.test(value) ? value : null;
      kind = table ?? owner;
    } else if (segment === 'me' && i === 0 && agentId) {
      parts.push('agents', agentId);
      table = 'agents';
      rowId = agentId;
      kind = 'agents';
    } else {
      parts.push(segment);
    }
  }
  const last = segments[segments.length - 1] ?? '';
  if (creates && createdId && !last.startsWith(':')) {
    parts.push(createdId);
    // A created top-level row is the resource itself; a created child (a message on a ticket)
    // is named in the path, and the parent's row shows what the child changed on it.
    if (table === null || segments.length === 1) {
      table = TABLE_OF_SEGMENT[last] ?? null;
      rowId = UUID.test(createdId) ? createdId : null;
      kind = table ?? last;
    }
  }
  const ticketId = segments[0] === 'tickets' && UUID.test(params.id ?? '') ? params.id! : null;
  const customerId = segments[0] === 'customers' && UUID.test(params.id ?? '') ? params.id! : null;
  return { resource: parts.join('/'), table: rowId ? table : null, rowId, kind, ticketId, customerId };
}
