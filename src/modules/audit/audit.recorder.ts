import type { FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import { auditAction, bodyFields, changedFields } from '../../domain/privacy/personal-fields.js';
import type { App } from '../../http/types.js';
import type { Clock } from '../../shared/clock.js';
import { STAFF } from '../auth/api-keys.models.js';
import { auditTarget, type AuditTarget } from '../../domain/privacy/audit-target.js';

/*
 * The audit trail is written by ONE mechanism for every route: hooks around the handler, so a
 * new route is audited without a line of its own.
 *   preHandler  (a staff principal's POST/PUT/PATCH/DELETE) reads the addressed row as it is;
 *   onSend      (a 2xx/3xx answer that is not an idempotent replay) reads it again and appends one
 *               audit_log row: actor, request id, address, action, resource, changed fields.
 * The snapshots are read around the handler's own transaction, not inside it: a concurrent write
 * to the same row between the two reads would show in this row's diff. The route, actor and
 * request id are always exact.
 */

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Pending {
  route: string;
  target: AuditTarget;
  before: Record<string, unknown> | null;
  customerId: string | null;
}

export interface AuditRecorderDeps {
  pool: pg.Pool;
  clock: Clock;
  logger: Logger;
}

/**
 * Whether this request is a write the trail records: a write by a staff principal (an API key, an
 * OIDC user, a browser session on the ops wall or Bull Board), on any route but the providers'
 * webhooks (never staff).
 */
function audited(request: FastifyRequest): boolean {
  const principal = request.principal;
  const route = request.routeOptions.url ?? '';
  return WRITES.has(request.method) && principal !== null && STAFF.includes(principal.role) && route.startsWith('/') && !route.startsWith('/webhooks/');
}

/** Installs the hooks; call before the routes are declared. */
export function registerAuditTrail(app: App, deps: AuditRecorderDeps): void {
  const { pool, clock, logger } = deps;
  const pending = new WeakMap<FastifyRequest, Pending>();

  // The table name comes from domain/privacy/audit-target.ts, never from the request.
  async function snapshot(table: string | null, rowId: string | null): Promise<Record<string, unknown> | null> {
    if (!table || !rowId) return null;
    try {
      const { rows } = await pool.query<{ row: Record<string, unknown> }>(`select to_jsonb(t) as row from "${table}" t where t.id = $1`, [rowId]);
      return rows[0]?.row ?? null;
    } catch (error) {
      // A table another feature has not created (yet): audit the write without its row.
      if ((error as { code?: string }).code === '42P01') return null;
      throw error;
    }
  }

  async function customerOf(target: AuditTarget, row: Record<string, unknown> | null): Promise<string | null> {
    if (target.customerId) return target.customerId;
    if (row && typeof row.customer_id === 'string') return row.customer_id;
    if (target.table === 'customers' && target.rowId) return target.rowId;
    if (!target.ticketId) return null;
    const { rows } = await pool.query<{ customer_id: string | null }>('select customer_id from tickets where id = $1', [target.ticketId]);
    return rows[0]?.customer_id ?? null;
  }

  app.addHook('preHandler', async (request) => {
    if (!audited(request)) return;
    const route = request.routeOptions.url!;
    const target = auditTarget(route, (request.params ?? {}) as Record<string, string>, request.principal!.agentId, null, false);
    const before = await snapshot(target.table, target.rowId);
    pending.set(request, { route, target, before, customerId: await customerOf(target, before) });
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const claim = pending.get(request);
    if (!claim) return payload;
    pending.delete(request);
    if (reply.statusCode >= 400 || reply.getHeader('idempotent-replayed') === 'true') return payload;
    const principal = request.principal!;
    try {
      const action = auditAction(request.method, claim.route);
      const creates = action.endsWith('.create') || (request.method === 'PUT' && !claim.route.includes(':'));
      const createdId = creates ? createdIdOf(payload) : null;
      const target = createdId ? auditTarget(claim.route, (request.params ?? {}) as Record<string, string>, principal.agentId, createdId, creates) : claim.target;
      const before = target.table === claim.target.table && target.rowId === claim.target.rowId ? claim.before : null;
      const after = await snapshot(target.table, target.rowId);
      const changes = target.table ? changedFields(target.table, before, after) : bodyFields(target.kind, request.body);
      const customerId = claim.customerId ?? (await customerOf(target, after));
      await pool.query(
        `insert into audit_log (occurred_at, actor_key_id, actor_agent_id, actor_role, request_id, ip, action, route, resource, customer_id, status, changes)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          clock.now(),
          UUID.test(principal.keyId) ? principal.keyId : null,
          principal.agentId,
          principal.role,
          request.id,
          request.ip ?? null,
          action,
          `${request.method} ${claim.route}`,
          target.resource,
          customerId,
          reply.statusCode,
          JSON.stringify(changes),
        ],
      );
    } catch (error) {
      // The write itself is committed and answered; a lost audit row is an operator's alarm.
      logger.error({ err: error, requestId: request.id, route: claim.route }, 'audit row not written');
    }
    return payload;
  });
}

/** The id of what a POST created, from its JSON answer ({ id } or { ticket: { id } }). */
function createdIdOf(payload: unknown): string | null {
  if (typeof payload !== 'string' || payload.length === 0 || payload[0] !== '{') return null;
  try {
    const body = JSON.parse(payload) as Record<string, unknown>;
    if (typeof body.id === 'string') return body.id;
    for (const value of Object.values(body)) {
      if (value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string') return (value as { id: string }).id;
    }
  } catch {
    // Not JSON: nothing was created that we can name.
  }
  return null;
}
