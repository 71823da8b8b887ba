import { and, asc, count, eq, sql } from 'drizzle-orm';
import type { Database, Executor } from '../../db/client.js';
import type { Clock } from '../../shared/clock.js';
import { AppError, badRequest, conflict, notFound } from '../../shared/errors.js';
import { isUniqueViolation } from '../../db/unique.js';
import { tickets } from '../tickets/tickets.table.js';
import { reasons, rootCauses } from './reasons.table.js';

export type ReasonRow = typeof reasons.$inferSelect;
export type RootCauseRow = typeof rootCauses.$inferSelect;

export interface ReasonInput {
  code: string;
  name: string;
  parentId?: string | null | undefined;
  translations?: Record<string, string> | undefined;
  active?: boolean | undefined;
}
export interface RootCauseInput {
  code: string;
  name: string;
  translations?: Record<string, string> | undefined;
  active?: boolean | undefined;
}

const label = (row: { name: string; translations: Record<string, string> }, language: string | undefined) => (language && row.translations[language]) || row.name;

export const reasonView = (row: ReasonRow, language?: string) => ({
  id: row.id,
  parentId: row.parentId,
  code: row.code,
  name: row.name,
  label: label(row, language),
  translations: row.translations,
  active: row.active,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});
export const rootCauseView = (row: RootCauseRow, language?: string) => ({
  id: row.id,
  code: row.code,
  name: row.name,
  label: label(row, language),
  translations: row.translations,
  active: row.active,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

async function withUniqueCode<T>(work: () => Promise<T>, field = 'body.code'): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict('duplicate-code', `${field}: another entry already has this code`);
    throw error;
  }
}

/** A top-level reason that exists: the only kind that may have children (two levels). */
async function requireParent(db: Executor, parentId: string, selfId?: string): Promise<void> {
  const [parent] = await db.select().from(reasons).where(eq(reasons.id, parentId));
  if (!parent) throw badRequest('body.parentId', `no reason with id ${parentId}`);
  if (parent.parentId !== null) throw badRequest('body.parentId', 'the tree has two levels: a parent must be a top-level reason');
  if (selfId && parent.id === selfId) throw badRequest('body.parentId', 'a reason cannot be its own parent');
}

/** The complaint-reason tree and the root causes (issue 16). */
export function createReasonService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;
  return {
    async createReason(input: ReasonInput) {
      const now = clock.now();
      if (input.parentId) await requireParent(db, input.parentId);
      const [row] = await withUniqueCode(() =>
        db.insert(reasons).values({ code: input.code, name: input.name, parentId: input.parentId ?? null, translations: input.translations ?? {}, active: input.active ?? true, createdAt: now, updatedAt: now }).returning(),
      );
      return reasonView(row!);
    },

    /** The tree: top-level reasons, each with its children, ordered by code. */
    async tree(options: { language?: string | undefined; includeInactive?: boolean | undefined }) {
      const rows = await db.select().from(reasons).orderBy(asc(reasons.code));
      const visible = rows.filter((r) => options.includeInactive || r.active);
      return {
        items: visible
          .filter((r) => r.parentId === null)
          .map((top) => ({ ...reasonView(top, options.language), children: visible.filter((c) => c.parentId === top.id).map((c) => reasonView(c, options.language)) })),
      };
    },

    async getReason(id: string, language?: string) {
      const [row] = await db.select().from(reasons).where(eq(reasons.id, id));
      if (!row) throw notFound('Reason', id);
      return reasonView(row, language);
    },

    async updateReason(id: string, input: Partial<ReasonInput>) {
      return db.transaction(async (tx) => {
        const [row] = await tx.select().from(reasons).where(eq(reasons.id, id)).for('update');
        if (!row) throw notFound('Reason', id);
        if (input.parentId) {
          await requireParent(tx, input.parentId, id);
          const [children] = await tx.select({ n: count() }).from(reasons).where(eq(reasons.parentId, id));
          if (children!.n > 0) throw badRequest('body.parentId', 'a reason with children stays top-level (two levels)');
        }
        const [updated] = await withUniqueCode(() => tx.update(reasons).set({ ...input, updatedAt: clock.now() }).where(eq(reasons.id, id)).returning());
        return reasonView(updated!);
      });
    },

    /** Only an unused reason without children can go; a used one is deactivated instead (PATCH active: false). */
    async deleteReason(id: string) {
      return db.transaction(async (tx) => {
        const [row] = await tx.select().from(reasons).where(eq(reasons.id, id)).for('update');
        if (!row) throw notFound('Reason', id);
        const [children] = await tx.select({ n: count() }).from(reasons).where(eq(reasons.parentId, id));
        const [used] = await tx.select({ n: count() }).from(tickets).where(eq(tickets.reasonId, id));
        if (children!.n > 0 || used!.n > 0) throw conflict('reason-in-use', 'This reason has children or classifies tickets; deactivate it instead (PATCH active: false)');
        await tx.delete(reasons).where(eq(reasons.id, id));
      });
    },

    async createRootCause(input: RootCauseInput) {
      const now = clock.now();
      const [row] = await withUniqueCode(() =>
        db.insert(rootCauses).values({ code: input.code, name: input.name, translations: input.translations ?? {}, active: input.active ?? true, createdAt: now, updatedAt: now }).returning(),
      );
      return rootCauseView(row!);
    },

    async listRootCauses(options: { language?: string | undefined; includeInactive?: boolean | undefined }) {
      const rows = await db.select().from(rootCauses).where(options.includeInactive ? undefined : eq(rootCauses.active, true)).orderBy(asc(rootCauses.code));
      return { items: rows.map((r) => rootCauseView(r, options.language)) };
    },

    async getRootCause(id: string, language?: string) {
      const [row] = await db.select().from(rootCauses).where(eq(rootCauses.id, id));
      if (!row) throw notFound('Root cause', id);
      return rootCauseView(row, language);
    },

    async updateRootCause(id: string, input: Partial<RootCauseInput>) {
      const [row] = await withUniqueCode(() => db.update(rootCauses).set({ ...input, updatedAt: clock.now() }).where(eq(rootCauses.id, id)).returning());
      if (!row) throw notFound('Root cause', id);
      return rootCauseView(row);
    },

    async deleteRootCause(id: string) {
      return db.transaction(async (tx) => {
        const [row] = await tx.select().from(rootCauses).where(eq(rootCauses.id, id)).for('update');
        if (!row) throw notFound('Root cause', id);
        const [used] = await tx.select({ n: count() }).from(tickets).where(eq(tickets.rootCauseId, id));
        if (used!.n > 0) throw conflict('root-cause-in-use', 'This root cause classifies tickets; deactivate it instead (PATCH active: false)');
        await tx.delete(rootCauses).where(eq(rootCauses.id, id));
      });
    },
  };
}

export type ReasonService = ReturnType<typeof createReasonService>;

// ---- classification of a ticket (the ticket service calls these) ----------------------------------

type ById = { id?: string | undefined; code?: string | undefined };

/**
 * The taxonomy entry (reason or root cause) a ticket update names, by id or by code (any case):
 * an unknown or inactive one is a 400 naming the field the caller used.
 */
function usableEntry<R extends { code: string; active: boolean }>(row: R | undefined, by: ById, fields: { id: string; code: string }, noun: string): R {
  const field = by.id !== undefined ? fields.id : fields.code;
  if (!row) throw badRequest(field, `no ${noun} ${by.id ?? by.code}`);
  if (!row.active) throw badRequest(field, `the ${noun} ${row.code} is deactivated`);
  return row;
}

export async function resolveReason(tx: Executor, by: ById): Promise<ReasonRow> {
  const where = by.id !== undefined ? eq(reasons.id, by.id) : sql`lower(${reasons.code}) = lower(${by.code!})`;
  const [row] = await tx.select().from(reasons).where(where);
  return usableEntry(row, by, { id: 'body.reasonId', code: 'body.reasonCode' }, 'complaint reason');
}

export async function resolveRootCause(tx: Executor, by: ById): Promise<RootCauseRow> {
  const where = by.id !== undefined ? eq(rootCauses.id, by.id) : sql`lower(${rootCauses.code}) = lower(${by.code!})`;
  const [row] = await tx.select().from(rootCauses).where(where);
  return usableEntry(row, by, { id: 'body.rootCauseId', code: 'body.rootCauseCode' }, 'root cause');
}

/** A leaf: a reason with no active children (a second-level reason, or a top-level one without any). */
export async function isLeafReason(tx: Executor, reasonId: string): Promise<boolean> {
  const [children] = await tx.select({ n: count() }).from(reasons).where(and(eq(reasons.parentId, reasonId), eq(reasons.active, true)));
  return children!.n === 0;
}

export const unprocessable = (field: string, message: string) => new AppError(422, 'validation', 'Unprocessable request', `${field}: ${message}`, [{ field, message }]);
