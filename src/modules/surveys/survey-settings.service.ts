import { and, asc, eq, getTableColumns, gt, inArray, or, sql } from 'drizzle-orm';
import type { Database, Executor } from '../../db/client.js';
import type { SurveyKind } from '../../domain/figures/surveys.js';
import { badRequest, notFound } from '../../shared/errors.js';
import { csatSurveys } from '../csat/csat.table.js';
import { teams } from '../teams/teams.table.js';
import { tickets } from '../tickets/tickets.table.js';
import { surveySettings } from './survey-settings.table.js';

export const ON_SOLVE = ['csat', 'ces', 'nps', 'off'] as const;
export type OnSolve = (typeof ON_SOLVE)[number];
export const SURVEY_SCOPE_KINDS = ['all', 'channel', 'team'] as const;
export type SurveyScope = { kind: 'all' } | { kind: 'channel'; value: string } | { kind: 'team'; value: string };

/** NPS asks a customer at most once in this many days (issue 16). */
export const NPS_QUIET_DAYS = 90;

type Row = typeof surveySettings.$inferSelect;
const view = (row: Row) => ({
  id: row.id,
  scope: row.scopeKind === 'all' ? { kind: 'all' as const } : { kind: row.scopeKind as 'channel' | 'team', value: row.scopeValue },
  onSolve: row.onSolve as OnSolve,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

/** Survey settings (issue 16): which survey a solve sends, per all / channel / team. */
export function createSurveySettingsService(deps: { db: Database; clock: { now(): Date } }) {
  const { db, clock } = deps;
  return {
    async put(input: { scope: SurveyScope; onSolve: OnSolve }) {
      if (input.scope.kind === 'team') {
        const [team] = await db.select({ id: teams.id }).from(teams).where(eq(teams.id, input.scope.value));
        if (!team) throw badRequest('body.scope.value', `there is no team ${input.scope.value}`);
      }
      const now = clock.now();
      const scopeValue = input.scope.kind === 'all' ? '' : input.scope.value.toLowerCase();
      const [row] = await db
        .insert(surveySettings)
        .values({ scopeKind: input.scope.kind, scopeValue, onSolve: input.onSolve, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: [surveySettings.scopeKind, surveySettings.scopeValue], set: { onSolve: input.onSolve, updatedAt: now } })
        .returning({ ...getTableColumns(surveySettings), created: sql<boolean>`(xmax = 0)` });
      const { created, ...setting } = row!;
      return { setting: view(setting), created };
    },
    async list() {
      const rows = await db.select().from(surveySettings).orderBy(asc(surveySettings.scopeKind), asc(surveySettings.scopeValue));
      return { items: rows.map(view) };
    },
    async delete(id: string) {
      const [row] = await db.delete(surveySettings).where(eq(surveySettings.id, id)).returning({ id: surveySettings.id });
      if (!row) throw notFound('Survey setting', id);
    },
  };
}

export type SurveySettingsService = ReturnType<typeof createSurveySettingsService>;

/**
 * The survey a solve of `ticket` sends: the team's setting, else the channel's, else the one for
 * all, else CSAT (as before issue 16). NPS goes to a customer at most once per NPS_QUIET_DAYS:
 * within that, the solve sends nothing.
 */
export async function surveyKindFor(tx: Executor, ticket: { teamId: string | null; channel: string; customerId: string }, now: Date): Promise<SurveyKind | 'off'> {
  const scopes = [and(eq(surveySettings.scopeKind, 'all'), eq(surveySettings.scopeValue, '')), and(eq(surveySettings.scopeKind, 'channel'), eq(surveySettings.scopeValue, ticket.channel))];
  if (ticket.teamId) scopes.push(and(eq(surveySettings.scopeKind, 'team'), eq(surveySettings.scopeValue, ticket.teamId)));
  const rows = await tx.select().from(surveySettings).where(or(...scopes));
  const rank = { team: 0, channel: 1, all: 2 } as Record<string, number>;
  const chosen = rows.sort((a, b) => rank[a.scopeKind]! - rank[b.scopeKind]!)[0];
  const kind = (chosen?.onSolve ?? 'csat') as OnSolve;
  if (kind !== 'nps') return kind;
  const since = new Date(now.getTime() - NPS_QUIET_DAYS * 86_400_000);
  const [recent] = await tx
    .select({ id: csatSurveys.id })
    .from(csatSurveys)
    .innerJoin(tickets, eq(tickets.id, csatSurveys.ticketId))
    .where(and(eq(tickets.customerId, ticket.customerId), inArray(csatSurveys.kind, ['nps']), gt(csatSurveys.offeredAt, since)))
    .limit(1);
  return recent ? 'off' : 'nps';
}
