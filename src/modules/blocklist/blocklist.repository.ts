import { and, desc, eq, or, sql } from 'drizzle-orm';
import type { SenderIdentity } from '../../channels/channel.types.js';
import type { Executor } from '../../db/client.js';
import { blockKeysFor, type BlockKey } from './blocklist.models.js';
import { blocklistEntries } from './blocklist.table.js';

export type BlocklistRow = typeof blocklistEntries.$inferSelect;

/**
 * The entry blocking this sender, if any, counted as one more blocked message: one statement,
 * so a sender nobody blocked costs intake a single indexed lookup. The most specific entry
 * counts: the identity before its domain, a longer domain before its parent.
 */
export async function recordBlocked(tx: Executor, sender: Pick<SenderIdentity, 'kind' | 'address'>, now: Date): Promise<BlocklistRow | undefined> {
  const keys = blockKeysFor(sender);
  const matching = or(...keys.map((k) => and(eq(blocklistEntries.kind, k.kind), eq(blocklistEntries.value, k.value))));
  const chosen = tx
    .select({ id: blocklistEntries.id })
    .from(blocklistEntries)
    .where(matching)
    .orderBy(sql`${blocklistEntries.kind} = 'domain'`, desc(sql`length(${blocklistEntries.value})`))
    .limit(1);
  const [row] = await tx
    .update(blocklistEntries)
    .set({ blockedCount: sql`${blocklistEntries.blockedCount} + 1`, lastBlockedAt: now })
    .where(eq(blocklistEntries.id, sql`(${chosen})`))
    .returning();
  return row;
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
