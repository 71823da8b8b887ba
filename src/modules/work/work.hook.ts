import { eq } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import type { FigureSettings } from '../../domain/figures/settings.js';
import { agents } from '../agents/agents.table.js';
import type { TicketChange, TicketHook } from '../tickets/tickets.hooks.js';
import { messages } from '../tickets/messages.table.js';
import { recordWork } from './work.repository.js';
import { phoneQueueCalls } from './queue-calls.table.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface QueueFact {
  outcome: 'answered' | 'abandoned';
  waitSec: number;
  callId: string;
}

/**
 * Calls become work and queue figures (issue 16), in the transaction that records them:
 *   - a call with a talk time (`call_logged` by an agent, `call_answered` from a provider) is a
 *     handling interval ending now, of the agent who logged it, the agent the PBX named, or
 *     else the ticket's assignee (no agent: no interval);
 *   - a call event carrying queue facts (answered or abandoned after so many seconds) is a row of
 *     phone_queue_calls, once per call.
 */
export function createWorkHook(deps: { settings: FigureSettings }): TicketHook {
  return {
    async inTransaction(tx, change: TicketChange) {
      for (const event of change.events) {
        const data = (event.data ?? {}) as Record<string, unknown>;
        if (event.type === 'call_logged' || (event.type === 'call_answered' && data.logged !== true)) {
          const seconds = typeof data.durationSec === 'number' ? data.durationSec : 0;
          const messageId = typeof data.messageId === 'string' ? data.messageId : null;
          if (seconds > 0) {
            // Only an agent's call_logged has an agent-authored message; a provider's
            // call_answered hangs on the customer's inbound call, whose author is never an agent
            // (the lookup was one statement per call inside intake's group transaction).
            const authoredBy = event.type === 'call_logged' ? messageId : null;
            const agentId = await agentOf(tx, change, authoredBy, typeof data.agentRef === 'string' ? data.agentRef : undefined);
            if (agentId) {
              await recordWork(
                tx,
                { ticketId: change.ticket.id, ticketChannel: change.ticket.channel, agentId, kind: 'handling', source: 'call', startedAt: new Date(change.now.getTime() - seconds * 1000), endedAt: change.now, messageId },
                deps.settings,
                change.now,
              );
            }
          }
        }
        const queue = data.queue as QueueFact | undefined;
        if ((event.type === 'call_answered' || event.type === 'call_missed') && queue && typeof queue.waitSec === 'number') {
          await tx
            .insert(phoneQueueCalls)
            .values({
              ticketId: change.ticket.id,
              callId: queue.callId,
              channel: 'phone',
              outcome: queue.outcome,
              waitSec: queue.waitSec,
              offeredAt: new Date(change.now.getTime() - queue.waitSec * 1000),
              createdAt: change.now,
            })
            .onConflictDoNothing();
        }
      }
    },
  };
}

async function agentOf(tx: Executor, change: TicketChange, authoredMessageId: string | null, agentRef: string | undefined): Promise<string | null> {
  if (authoredMessageId) {
    const [message] = await tx.select({ author: messages.authorAgentId }).from(messages).where(eq(messages.id, authoredMessageId));
    if (message?.author) return message.author;
  }
  if (agentRef && UUID.test(agentRef)) {
    const [agent] = await tx.select({ id: agents.id }).from(agents).where(eq(agents.id, agentRef.toLowerCase()));
    if (agent) return agent.id;
  }
  return change.ticket.assigneeId;
}
