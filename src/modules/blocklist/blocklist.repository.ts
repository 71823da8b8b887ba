import { and, desc, eq, or, sql } from 'drizzle-orm';
import type { SenderIdentity } from '../../channels/channel.types.js';
import type { Executor } from '../../db/client.js';
import { blockKeysFor, type BlockKey } from './blocklist.models.js';
import { blocklistEntries } from './blocklist.table.js';

export type BlocklistRow = typeof blocklistEntries.$inferSelect;

/**
 * The entry blocking this sender, if any: the most specific one (the identity before its
 * domain, a longer domain before its parent). A sender nobody blocked costs one indexed lookup.
 */
export async function findBlock(tx: Executor, sender: Pick<SenderIdentity, 'kind' | 'address'>): Promise<Pick<BlocklistRow, 'id' | 'kind' | 'value'> | undefined> {
  const keys = blockKeysFor(sender);
  const [row] = await tx
    .select({ id: blocklistEntries.id, kind: blocklistEntries.kind, value: blocklistEntries.value })
    .from(blocklistEntries)
    .where(or(...keys.map((k) => and(eq(blocklistEntries.kind, k.kind), eq(blocklistEntries.value, k.value)))))
    .orderBy(sql`${blocklistEntries.kind} = 'domain'`, desc(sql`length(${blocklistEntries.value})`))
    .limit(1);
  return row;
}

/**
 * findBlock for many senders, as the caller's part of a larger statement (intake's group commit
 * reads a whole group's senders at once, with its other reads): `select` yields the candidate
 * entries (id, kind, value), `pick` gives, for each sender in order, its most specific entry or
 * undefined.
 */
export function blocklistLookup(senders: readonly Pick<SenderIdentity, 'kind' | 'address'>[]) {
  const keysOf = senders.map((sender) => blockKeysFor(sender));
  const all = new Map<string, BlockKey>();
  for (const keys of keysOf) for (const k of keys) all.set(`${k.kind}\u0000${k.value}`, k);
  const keys = [...all.values()];
  // findBlock's order: the identity before its domain, a longer domain before its parent.
  const specificity = (a: { kind: string; value: string }, b: { kind: string; value: string }) => Number(a.kind === 'domain') - Number(b.kind === 'domain') || b.value.length - a.value.length;
  return {
    select: sql`select id, kind, value from blocklist_entries
      where (kind, value) in (select * from unnest(${sql.param(keys.map((k) => k.kind))}::text[], ${sql.param(keys.map((k) => k.value))}::text[]))`,
    pick: (rows: readonly Pick<BlocklistRow, 'id' | 'kind' | 'value'>[]): (Pick<BlocklistRow, 'id' | 'kind' | 'value'> | undefined)[] =>
      keysOf.map((keys) => rows.filter((row) => keys.some((k) => k.kind === row.kind && k.value === row.value)).sort(specificity)[0]),
  };
}

/** Adds blocked messages to their entries' counts (entry ids may repeat: one per message). */
export async function countBlocked(tx: Executor, entryIds: string[], now: Date): Promise<void> {
  const perEntry = new Map<string, number>();
  for (const id of entryIds) perEntry.set(id, (perEntry.get(id) ?? 0) + 1);
  for (const [id, n] of [...perEntry].sort(([a], [b]) => a.localeCompare(b))) {
    await tx
      .update(blocklistEntries)
      .set({ blockedCount: sql`${blocklistEntries.blockedCount} + ${n}`, lastBlockedAt: now })
      .where(eq(blocklistEntries.id, id));
  }
}

export async function listEntries(tx: Executor, page: { limit: number; after?: { at: Date; id: string } | undefined }): Promise<BlocklistRow[]> {
  return tx
    .select()
    .from(blocklistEntries)
    .where(page.after ? sql`(${blocklistEntries.createdAt}, ${blocklistEntries.id}) < (${page.after.at}, ${page.after.id}::uuid)` : undefined)
    .orderBy(desc(blocklistEntries.createdAt), desc(blocklistEntries.id))
    .limit(page.limit + 1);
}

export async function insertEntry(tx: Executor, entry: BlockKey & { reason: string | null; now: Date }): Promise<BlocklistRow> {
  const [row] = await tx.insert(blocklistEntries).values({ kind: entry.kind, value: entry.value, reason: entry.reason, createdAt: entry.now }).returning();
  return row!;
}

export async function findEntry(tx: Executor, key: BlockKey): Promise<BlocklistRow | undefined> {
  const [row] = await tx.select().from(blocklistEntries).where(and(eq(blocklistEntries.kind, key.kind), eq(blocklistEntries.value, key.value)));
  return row;
}

export async function deleteEntry(tx: Executor, id: string): Promise<boolean> {
  const rows = await tx.delete(blocklistEntries).where(eq(blocklistEntries.id, id)).returning({ id: blocklistEntries.id });
  return rows.length > 0;
}
