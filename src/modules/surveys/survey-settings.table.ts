import { pgTable, text, unique } from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from '../../db/columns.js';

/**
 * Which survey a solve sends (issue 16), per scope: all, a channel or a team; the most specific
 * scope wins (team, then channel, then all; no row: CSAT as before). scope_value is '' for 'all'.
 */
export const surveySettings = pgTable(
  'survey_settings',
  {
    id: id(),
    scopeKind: text('scope_kind').notNull(),
    scopeValue: text('scope_value').notNull(),
    /** csat | ces | nps | off */
    onSolve: text('on_solve').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [unique('survey_settings_scope_uq').on(t.scopeKind, t.scopeValue)],
);
