import { and, asc, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { uniqueOrConflict } from '../../db/unique.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { templates } from './delivery.table.js';

export interface TemplateInput {
  name: string;
  language: string;
  subject?: string | undefined;
  body: string;
}

/** Canned replies, one row per (name, language); rendering is templates.ts's. */
export function createTemplateService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;
  return {
    async create(input: TemplateInput) {
      const now = clock.now();
      return uniqueOrConflict(
        async () => (await db.insert(templates).values({ ...input, subject: input.subject ?? null, createdAt: now, updatedAt: now }).returning())[0]!,
        `Template "${input.name}" exists in ${input.language}`,
      );
    },
    list: (query: { name?: string | undefined; language?: string | undefined }) =>
      db
        .select()
        .from(templates)
        .where(and(query.name ? eq(templates.name, query.name) : undefined, query.language ? eq(templates.language, query.language) : undefined))
        .orderBy(asc(templates.name), asc(templates.language)),
    async get(id: string) {
      const [row] = await db.select().from(templates).where(eq(templates.id, id));
      if (!row) throw notFound('Template', id);
      return row;
    },
    async update(id: string, input: Partial<TemplateInput>) {
      return uniqueOrConflict(async () => {
        const [row] = await db.update(templates).set({ ...input, updatedAt: clock.now() }).where(eq(templates.id, id)).returning();
        if (!row) throw notFound('Template', id);
        return row;
      }, 'A template with that name and language exists');
    },
    async delete(id: string): Promise<void> {
      const [row] = await db.delete(templates).where(eq(templates.id, id)).returning({ id: templates.id });
      if (!row) throw notFound('Template', id);
    },
  };
}

export type TemplateService = ReturnType<typeof createTemplateService>;
