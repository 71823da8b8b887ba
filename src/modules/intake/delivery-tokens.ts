import { and, eq, lt } from 'drizzle-orm';
import type { DeliveryToken } from '../../channels/channel.adapter.js';
import type { Database } from '../../db/client.js';
import { webhookTokens } from './intake.table.js';

/**
 * Records a verified signature token with the digest of the content it came with. True when the
 * token is new or came before with the same content (a provider's redelivery: intake
 * deduplicates it), false when it came before with other content: a captured signature replayed
 * on a forged body. Tokens past their signature's age limit are pruned on the way.
 */
export async function claimDeliveryToken(db: Database, channel: string, token: DeliveryToken, now: Date): Promise<boolean> {
  const inserted = await db.transaction(async (tx) => {
    await tx.delete(webhookTokens).where(lt(webhookTokens.expiresAt, now));
    return tx
      .insert(webhookTokens)
      .values({ channel, token: token.token, contentDigest: token.contentDigest, expiresAt: token.expiresAt })
      .onConflictDoNothing()
      .returning({ token: webhookTokens.token });
  });
  if (inserted.length > 0) return true;
  const [seen] = await db
    .select({ contentDigest: webhookTokens.contentDigest })
    .from(webhookTokens)
    .where(and(eq(webhookTokens.channel, channel), eq(webhookTokens.token, token.token)));
  // Gone between the two statements means it expired: its signature no longer verifies anyway.
  return seen !== undefined && seen.contentDigest === token.contentDigest;
}

