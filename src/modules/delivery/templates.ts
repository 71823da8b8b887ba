import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { badRequest } from '../../shared/errors.js';
import { agents } from '../agents/agents.table.js';
import { customers } from '../customers/customers.table.js';
import { tickets } from '../tickets/tickets.table.js';
import { templates } from './delivery.table.js';

const VARIABLE = /\{\{\s*([a-z]+\.[a-z]+)\s*\}\}/gi;

/** Fills {{customer.name}}-style variables; an unknown variable is left as written. */
export function fillTemplate(text: string, values: Record<string, string>): string {
  return text.replace(VARIABLE, (whole, key: string) => values[key.toLowerCase()] ?? whole);
}

/**
 * Renders a template for a ticket in the customer's language: the version of the template's
 * name in the ticket's (or customer's) language, else the one asked for.
 */
export function createTemplateRenderer(db: Database) {
  return async function render(ticketId: string, templateId: string, agentId: string | null): Promise<{ body: string; language: string }> {
    const [chosen] = await db.select().from(templates).where(eq(templates.id, templateId));
    if (!chosen) throw badRequest('body.templateId', `no template with id ${templateId}`);
    const [ticket] = await db
      .select({ number: tickets.number, subject: tickets.subject, language: tickets.language, customerName: customers.name, customerLanguage: customers.language })
      .from(tickets)
      .innerJoin(customers, eq(customers.id, tickets.customerId))
      .where(eq(tickets.id, ticketId));
    if (!ticket) return { body: chosen.body, language: chosen.language };
    let version = chosen;
    for (const language of [ticket.language, ticket.customerLanguage]) {
      if (!language) continue;
      // Already in the best language known: the ticket's outranks the customer's profile.
      if (language === chosen.language) break;
      const [localized] = await db.select().from(templates).where(and(eq(templates.name, chosen.name), eq(templates.language, language)));
      if (localized) {
        version = localized;
        break;
      }
    }
    const agentName = agentId ? ((await db.select({ name: agents.name }).from(agents).where(eq(agents.id, agentId)))[0]?.name ?? '') : '';
    const values = {
      'customer.name': ticket.customerName ?? '',
      'ticket.number': String(ticket.number),
      'ticket.subject': ticket.subject,
      'agent.name': agentName,
    };
    return { body: fillTemplate(version.body, values), language: version.language };
  };
}

export type TemplateRenderer = ReturnType<typeof createTemplateRenderer>;
