import { lt, sql } from 'drizzle-orm';
import type { DeliveryToken } from '../../channels/channel.adapter.js';
import type { Database } from '../../db/client.js';
import { webhookTokens } from './intake.table.js';

/**
 * How long a token is kept after its signature stops passing the age check. The age is checked
 * against one request's receipt time while other requests prune with theirs, possibly later (a
 * large body takes a while to read and parse, and the attacker chooses the body). Without the
 * margin, a captured signature posted just before it expires saw its original row pruned by its
 * own or a neighbour's claim, and its forged content was taken as new. A request would have to
 * spend this long between receipt and claim for that to happen again.
 */
export const TOKEN_PRUNE_MARGIN_MS = 3_600_000;

/**
 * Records a verified signature token with the digest of the content it came with. True when the
 * token is new or came before with the same content (a provider's redelivery: intake
 * deduplicates it), false when it came before with other content: a captured signature replayed
 * on a forged body.
 *
 * `checkedAt` is the instant the signature's age was checked against (the request's receipt
 * time), never a later "now": a row is pruned only once its expiry lies more than
 * TOKEN_PRUNE_MARGIN_MS before that instant, so no row is pruned while its signature could still
 * pass the age check.
 */
export async function claimDeliveryToken(db: Database, channel: string, token: DeliveryToken, checkedAt: Date): Promise<boolean> {
  const [claimed] = await db.transaction(async (tx) => {
    await tx.delete(webhookTokens).where(lt(webhookTokens.expiresAt, new Date(checkedAt.getTime() - TOKEN_PRUNE_MARGIN_MS)));
    // One statement: a new token is inserted, a known one answers with the digest it was first
    // claimed with (the no-op update makes RETURNING yield the existing row, locked).
    return tx
      .insert(webhookTokens)
      .values({ channel, token: token.token, contentDigest: token.contentDigest, expiresAt: token.expiresAt })
      .onConflictDoUpdate({ target: [webhookTokens.channel, webhookTokens.token], set: { contentDigest: sql`${webhookTokens.contentDigest}` } })
      .returning({ contentDigest: webhookTokens.contentDigest });
  });
  return claimed !== undefined && claimed.contentDigest === token.contentDigest;
}
