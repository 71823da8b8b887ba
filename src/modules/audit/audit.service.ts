import { and, desc, eq, gte, like, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { cursorKeys, decodeCursor, toPage, type Page } from '../../http/pagination.js';
import { auditLog, type AuditRow } from './audit.table.js';

export interface AuditQuery {
  resource?: string | undefined;
  actor?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface AuditView {
  id: number;
  occurredAt: Date;
  actor: { keyId: string | null; agentId: string | null; role: string };
  requestId: string;
  ip: string | null;
  action: string;
  route: string;
  resource: string;
  customerId: string | null;
  status: number;
  changes: AuditRow['changes'];
}

export const auditView = (row: AuditRow): AuditView => ({
  id: row.id,
  occurredAt: row.occurredAt,
  actor: { keyId: row.actorKeyId, agentId: row.actorAgentId, role: row.actorRole },
  requestId: row.requestId,
  ip: row.ip,
  action: row.action,
  route: row.route,
  resource: row.resource,
  customerId: row.customerId,
  status: row.status,
  changes: row.changes,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const escapeLike = (value: string) => value.replace(/[\\%_]/g, (c) => `\\${c}`);

export function createAuditService(deps: { db: Database }) {
  const { db } = deps;
  return {
    /** Newest first; `resource` matches the resource and everything under it ("tickets/<id>" includes its messages). */
    async list(query: AuditQuery): Promise<Page<AuditView>> {
      const after = decodeCursor(query.cursor, cursorKeys.sequence);
      const conditions: (SQL | undefined)[] = [];
      if (query.resource) {
        const resource = query.resource.replace(/^\/+|\/+$/g, '');
        conditions.push(or(eq(auditLog.resource, resource), like(auditLog.resource, `${escapeLike(resource)}/%`)));
      }
      if (query.actor) {
        // An actor is an API key or an agent: both are uuids, and never the same one.
        conditions.push(UUID.test(query.actor) ? or(eq(auditLog.actorKeyId, query.actor), eq(auditLog.actorAgentId, query.actor)) : sql`false`);
      }
      if (query.from) conditions.push(gte(auditLog.occurredAt, query.from));
      if (query.to) conditions.push(lt(auditLog.occurredAt, query.to));
      if (after) conditions.push(lt(auditLog.id, after.v as number));
      const rows = await db
        .select()
        .from(auditLog)
        .where(and(...conditions))
        .orderBy(desc(auditLog.id))
        .limit(query.limit + 1);
      return toPage(rows, query.limit, (row) => ({ v: row.id, id: String(row.id) }), auditView);
    },

    /** Every row about one customer, oldest first, a page at a time (for the export). */
    async *aboutCustomer(customerIds: string[], pageSize = 500): AsyncGenerator<AuditView> {
      let afterId = 0;
      for (;;) {
        const rows = await db
          .select()
          .from(auditLog)
          .where(and(sql`${auditLog.customerId} = any(${sql.param(customerIds)}::uuid[])`, sql`${auditLog.id} > ${afterId}`))
          .orderBy(auditLog.id)
          .limit(pageSize);
        for (const row of rows) yield auditView(row);
        if (rows.length < pageSize) return;
        afterId = rows[rows.length - 1]!.id;
      }
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
