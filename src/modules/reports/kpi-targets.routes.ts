import { z } from 'zod';
import { CHANNELS } from '../../channels/channel.types.js';
import type { Database } from '../../db/client.js';
import type { Guard } from '../../http/auth.js';
import { cursorKeys, decodeCursor, limitSchema, toPage } from '../../http/pagination.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import type { Clock } from '../../shared/clock.js';
import { MANAGERS } from '../auth/api-keys.models.js';
import { ALARM_STATES, DIRECTIONS, SCOPE_KINDS, TARGET_KPIS } from './kpi-targets.table.js';
import { deleteTarget, listAlarms, listTargets, upsertTarget } from './kpi-targets.service.js';

const tags = ['reports'];

const scopeInput = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('all') }),
  z.strictObject({ kind: z.literal('channel'), value: z.enum(CHANNELS) }),
  z.strictObject({ kind: z.literal('team'), value: z.uuid() }),
]);
export const scopeView = z.object({ kind: z.enum(SCOPE_KINDS), value: z.string().optional() });

const targetBody = z.strictObject({
  kpi: z.enum(TARGET_KPIS),
  scope: scopeInput.default({ kind: 'all' }),
  threshold: z.number().finite(),
  direction: z.enum(DIRECTIONS).describe('above: alarm when the KPI goes above the threshold; below: when it goes below'),
  // The report's longest range: 366 days.
  windowHours: z.number().int().min(1).max(366 * 24).default(24),
});

/** A KPI target as the API shows it (the wall adds its value now). */
export const targetSchema = z
  .object({
    id: z.uuid(),
    kpi: z.enum(TARGET_KPIS),
    scope: scopeView,
    threshold: z.number(),
    direction: z.enum(DIRECTIONS),
    windowHours: z.number().int(),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'KpiTarget' });

export const alarmView = z
  .object({
    id: z.uuid(),
    targetId: z.uuid(),
    kpi: z.enum(TARGET_KPIS),
    scope: scopeView,
    threshold: z.number(),
    direction: z.enum(DIRECTIONS),
    windowHours: z.number().int(),
    state: z.enum(ALARM_STATES),
    value: z.number().nullable(),
    raisedAt: z.date(),
    clearedAt: z.date().nullable(),
    lastValue: z.number().nullable(),
    lastEvaluatedAt: z.date(),
  })
  .meta({ id: 'Alarm' });

export function registerKpiTargetRoutes(app: App, deps: { db: Database; clock: Clock; guard: Guard }): void {
  const { db, clock, guard } = deps;

  app.put('/v1/kpi-targets', {
    onRequest: guard(MANAGERS),
    schema: {
      tags,
      summary: 'Set the target of a KPI in a scope (created, or replaced when (kpi, scope) has one)',
      security: bearerSecurity,
      body: targetBody,
      response: { 200: targetSchema, 201: targetSchema, ...problemResponses() },
    },
    handler: async (request, reply) => {
      const { target, created } = await upsertTarget(db, request.body, clock.now());
      return reply.status(created ? 201 : 200).send(target);
    },
  });

  app.get('/v1/kpi-targets', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Every KPI target', security: bearerSecurity, response: { 200: z.object({ items: z.array(targetSchema) }), ...problemResponses() } },
    handler: async () => ({ items: await listTargets(db) }),
  });

  app.delete('/v1/kpi-targets/:id', {
    onRequest: guard(MANAGERS),
    schema: {
      tags,
      summary: 'Delete a KPI target and its alarms',
      security: bearerSecurity,
      params: z.object({ id: z.uuid() }),
      response: { 204: z.null(), ...problemResponses(404) },
    },
    handler: async (request, reply) => {
      await deleteTarget(db, request.params.id);
      return reply.status(204).send(null);
    },
  });

  app.get('/v1/alarms', {
    onRequest: guard(MANAGERS),
    schema: {
      tags,
      summary: 'KPI alarms, newest first (state=raised for the open ones)',
      security: bearerSecurity,
      querystring: z.object({ state: z.enum(ALARM_STATES).optional(), limit: limitSchema, cursor: z.string().max(500).optional() }),
      response: { 200: z.object({ items: z.array(alarmView), nextCursor: z.string().nullable() }), ...problemResponses() },
    },
    handler: async (request) => {
      const q = request.query;
      const cursor = decodeCursor(q.cursor, cursorKeys.instant);
      const rows = await listAlarms(db, { state: q.state, after: cursor ? { raisedAt: new Date(cursor.v), id: cursor.id } : undefined, limit: q.limit + 1 });
      return toPage(rows, q.limit, (r) => ({ v: r.raisedAt.toISOString(), id: r.id }), (r) => r);
    },
  });
}
