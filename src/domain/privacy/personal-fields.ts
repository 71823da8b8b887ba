/*
 * Which columns hold a customer's personal data or a secret, and what an audit row may say about
 * a change. Pure: the audit trail and the erasure both ask here, so the two never disagree.
 *
 * An audit row is append-only and outlives an erasure, so it must never hold personal data in
 * clear: a personal column is recorded as changed, without its values. A secret (salt, hash,
 * token, key) is recorded the same way. Everything else keeps its before and after values.
 */

export type FieldClass = 'personal' | 'secret' | 'plain' | 'ignored';

/** Columns of a customer's own rows that hold what the customer wrote or who they are. */
const PERSONAL_COLUMNS: Record<string, readonly string[]> = {
  customers: ['name'],
  customer_identities: ['address', 'display_name', 'handle'],
  tickets: ['subject', 'description', 'search'],
  messages: ['subject', 'body_text', 'body_html', 'sender_address', 'attachments', 'thread_key', 'message_id_header', 'provider_message_id', 'delivery_error'],
  attachments: ['filename', 'content', 'storage_path', 'checksum'],
  csat_surveys: ['comment'],
  commitments: ['description'],
  outbox: ['payload', 'last_error'],
  blocklist_entries: ['value', 'reason'],
  breaches: ['ack_note'],
  inbound_payloads: ['body', 'outcome'],
  dead_letters: ['body'],
  pending_notifications: ['data'],
};

/**
 * Tables of staff and configuration: no customer's data lives there, so only secrets are hidden
 * (an audit of "team renamed" should say from what to what).
 */
const STAFF_TABLES = new Set(['agents', 'teams', 'calendars', 'sla_policies', 'templates', 'kpi_targets', 'routing_queues', 'api_keys', 'alarms', 'privacy_retention_settings']);

/** Bookkeeping that changes with every write and says nothing an auditor needs. */
const IGNORED_COLUMNS = new Set(['updated_at', 'version']);

const SECRET = /(secret|token|hash|salt|password|passphrase|credential|private_?key|signing_?key)/i;

/** For tables this list does not know yet (added later by other features): guess by name, erring on the side of hiding. */
const PERSONAL_BY_NAME = /(^|_)(name|email|phone|address|subject|body|text|html|comment|description|note|payload|handle|content|filename|data|destination|recipient|to|from)($|_)/i;

export function fieldClass(table: string, column: string): FieldClass {
  if (IGNORED_COLUMNS.has(column)) return 'ignored';
  if (SECRET.test(column)) return 'secret';
  const personal = PERSONAL_COLUMNS[table];
  if (personal) return personal.includes(column) ? 'personal' : 'plain';
  if (STAFF_TABLES.has(table)) return 'plain';
  return PERSONAL_BY_NAME.test(column) ? 'personal' : 'plain';
}

/** One changed field in an audit row: values when plain, only the fact of the change otherwise. */
export type FieldChange = { before?: unknown; after?: unknown } | { changed: true; redacted: 'personal' | 'secret' };

type Row = Record<string, unknown>;

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * The changed fields between two snapshots of one row (null: the row did not exist), as an audit
 * row stores them. A created row lists its non-null fields; a deleted one its non-null fields
 * before.
 */
export function changedFields(table: string, before: Row | null, after: Row | null): Record<string, FieldChange> {
  const changes: Record<string, FieldChange> = {};
  const columns = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const column of [...columns].sort()) {
    const b = before?.[column] ?? null;
    const a = after?.[column] ?? null;
    if (same(b, a)) continue;
    const kind = fieldClass(table, column);
    if (kind === 'ignored') continue;
    if (kind === 'personal' || kind === 'secret') {
      changes[column] = { changed: true, redacted: kind };
      continue;
    }
    const change: { before?: unknown; after?: unknown } = {};
    if (before) change.before = b;
    if (after) change.after = a;
    changes[column] = change;
  }
  return changes;
}

/**
 * A request's body as an audit row may show it when there is no row to compare (a write whose
 * resource has no table we know): the names of the fields sent, values only for plain ones.
 */
export function bodyFields(table: string, body: unknown): Record<string, FieldChange> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  const changes: Record<string, FieldChange> = {};
  for (const [key, value] of Object.entries(body as Row).sort(([a], [b]) => a.localeCompare(b))) {
    const column = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const kind = fieldClass(table, column);
    if (kind === 'ignored') continue;
    // Free-form values of unknown shape could carry anything: plain scalars only.
    if (kind === 'plain' && (value === null || ['string', 'number', 'boolean'].includes(typeof value))) changes[key] = { after: value };
    else changes[key] = { changed: true, redacted: kind === 'secret' ? 'secret' : 'personal' };
  }
  return changes;
}

/**
 * The action an audit row names, from the method and the route pattern:
 * `PATCH /v1/tickets/:id` → tickets.update, `POST /v1/tickets` → tickets.create,
 * `POST /v1/tickets/:id/merge` → tickets.merge, `POST /v1/tickets/:id/messages` →
 * tickets.messages.create, `PUT /v1/routing/settings` → routing.settings.update.
 */
export function auditAction(method: string, route: string): string {
  const segments = route.replace(/^\/v1\//, '').split('/').filter(Boolean);
  const words = segments.filter((s) => !s.startsWith(':'));
  const last = segments[segments.length - 1] ?? '';
  const path = words.join('.');
  const m = method.toUpperCase();
  if (m === 'DELETE') return `${path}.delete`;
  if (m === 'PATCH' || m === 'PUT') return `${path}.update`;
  if (last.startsWith(':')) return `${path}.create`;
  // POST to a collection (a plural noun, or the first segment) creates; to a verb acts.
  const previous = segments[segments.length - 2];
  const collection = last.endsWith('s') && (previous === undefined || previous.startsWith(':') || !route.includes(':'));
  if (segments.length === 1 || collection) return `${path}.create`;
  return path;
}
