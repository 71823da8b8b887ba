import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { reportRange } from './report-range.js';
import { CHANNELS } from '../../channels/channel.types.js';
import type { Database } from '../../db/client.js';
import { SLA_METRICS } from '../../domain/sla/sla.types.js';
import type { Guard } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import type { Clock } from '../../shared/clock.js';
import { badRequest } from '../../shared/errors.js';
import { MANAGERS } from '../auth/api-keys.models.js';
import type { FigureSettings } from '../../domain/figures/settings.js';
import { registerAgentReportRoutes } from './agent-report.routes.js';
import { registerKpiTargetRoutes } from './kpi-targets.routes.js';
import { GROUP_BYS, toCsv, UnknownTimeZoneError } from './kpi.queries.js';
import { kpiReport } from './kpi.service.js';

const tags = ['reports'];
const MAX_RANGE_MS = 366 * 86_400_000;

const csvList = <T extends readonly [string, ...string[]]>(values: T) =>
  z.string().transform((raw) => raw.split(',').map((v) => v.trim()).filter(Boolean)).pipe(z.array(z.enum(values)).min(1));

const distribution = z.object({ count: z.number().int(), median: z.number().nullable(), p90: z.number().nullable(), avg: z.number().nullable() });
const timing = z.object({ calendar: distribution, business: distribution });
const slaFigure = z.object({ met: z.number().int(), breached: z.number().int(), compliance: z.number().nullable() });

const kpiRow = z
  .object({
    group: z.object({ key: z.string().nullable(), label: z.string() }),
    createdCount: z.number().int(),
    solvedCount: z.number().int(),
    backlogAtEnd: z.number().int(),
    firstResponse: timing,
    resolution: timing,
    sla: z.object(Object.fromEntries(SLA_METRICS.map((m) => [m, slaFigure])) as Record<(typeof SLA_METRICS)[number], typeof slaFigure>),
    breaches: z.number().int(),
    fcr: z.object({ yes: z.number().int(), no: z.number().int(), rate: z.number().nullable() }),
    csat: z.object({ average: z.number().nullable(), offered: z.number().int(), responded: z.number().int(), responseRate: z.number().nullable() }),
    reopenRate: z.number().nullable(),
    handoffsPerTicket: z.number().nullable(),
    commitments: z.object({ kept: z.number().int(), broken: z.number().int(), overdue: z.number().int(), keptRate: z.number().nullable() }),
    // Contact-center figures (issue 16).
    handleTime: distribution
      .extend({ handlingAvg: z.number().nullable(), afterWorkAvg: z.number().nullable() })
      .describe('handling + after-work seconds of tickets solved in range that have work; the averages of each part apart'),
    serviceLevel: z
      .object({ within: z.number().int(), eligible: z.number().int(), rate: z.number().nullable() })
      .describe('phone calls answered within the threshold / (offered − short abandons), plus digital first responses within their channel threshold / first responses'),
    averageSpeedOfAnswer: z.number().nullable().describe('mean queue wait of answered calls, seconds'),
    abandonmentRate: z.number().nullable().describe('abandoned calls (short ones excluded) / (offered − short abandons)'),
    phoneQueue: z.object({ offered: z.number().int(), answered: z.number().int(), answeredWithin: z.number().int(), abandoned: z.number().int(), shortAbandoned: z.number().int() }),
    ces: z.object({ average: z.number().nullable(), offered: z.number().int(), responded: z.number().int(), responseRate: z.number().nullable() }).describe('customer effort, 1 (very hard) to 7 (very easy)'),
    nps: z
      .object({ score: z.number().nullable(), offered: z.number().int(), responded: z.number().int(), promoters: z.number().int(), passives: z.number().int(), detractors: z.number().int() })
      .describe('score = 100 × (promoters − detractors) / responded, from −100 to 100'),
    redress: z.object({ count: z.number().int(), sums: z.array(z.object({ currency: z.string(), amount: z.number() })) }).describe('tickets solved in range with redress, and the amounts per currency'),
    occupancy: z.number().nullable().describe('agents: handling / (handling + available idle); total, agent, team and day rows only; null with a channel filter'),
  })
  .meta({ id: 'KpiRow', description: 'KPIs of one group (or the total); ratios are null without a denominator, durations in seconds' });

export const kpiReportSchema = z.object({
  from: z.string(),
  to: z.string(),
  groupBy: z.enum(GROUP_BYS),
  tz: z.string(),
  rows: z.array(kpiRow),
  total: kpiRow,
});

const reportQuery = z
  .object({
    from: reportRange.from,
    to: reportRange.to,
    groupBy: z.enum(GROUP_BYS).default('channel'),
    tz: reportRange.tz,
    channel: csvList(CHANNELS).optional(),
    teamId: z.uuid().optional(),
  })
  .superRefine((q, ctx) => {
    const from = Date.parse(q.from);
    const to = Date.parse(q.to);
    if (Number.isNaN(from) || Number.isNaN(to)) return;
    if (to <= from) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
    else if (to - from > MAX_RANGE_MS) ctx.addIssue({ code: 'custom', path: ['to'], message: 'the range from..to must not exceed 366 days' });
  });

/** Whether the client prefers CSV: text/csv listed with a q at least that of JSON (or JSON absent). */
export function wantsCsv(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  if (!accept) return false;
  const q = (type: string): number => {
    for (const part of accept.split(',')) {
      const [media, ...params] = part.trim().toLowerCase().split(';');
      if (media?.trim() !== type) continue;
      const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return qParam ? Number(qParam.slice(2)) || 0 : 1;
    }
    return -1;
  };
  const csv = q('text/csv');
  return csv > 0 && csv >= q('application/json');
}

export function registerKpiRoutes(app: App, deps: { db: Database; readDb?: Database; clock: Clock; guard: Guard; settings?: FigureSettings }): void {
  const { db, clock, guard } = deps;
  // The report only reads: a replica (DATABASE_READ_URL) serves it when there is one.
  const readDb = deps.readDb ?? db;

  app.get('/v1/reports/kpis', {
    onRequest: guard(MANAGERS),
    schema: {
      tags,
      summary: 'KPIs over [from, to) per channel, team, agent, language, priority, day or week, with a total row',
      description:
        'Answers JSON, or CSV (one line per group, then the total; flattened column names) when the Accept header prefers text/csv. ' +
        'Durations are seconds; ratios are null when they have no denominator. See the README section "KPIs" for the definitions.',
      security: bearerSecurity,
      querystring: reportQuery,
      response: { 200: kpiReportSchema, ...problemResponses() },
    },
    handler: async (request, reply) => {
      const q = request.query;
      const from = new Date(q.from);
      const to = new Date(q.to);
      let report, source;
      try {
        ({ report, source } = await kpiReport(readDb, { from, to, groupBy: q.groupBy, tz: q.tz, channels: q.channel, teamId: q.teamId, now: clock.now(), settings: deps.settings }));
      } catch (error) {
        if (error instanceof UnknownTimeZoneError) throw badRequest('query.tz', 'is not a time zone the database knows');
        throw error;
      }
      // Which path answered: the rollups (medians and p90 within the sketch's accuracy) or the exact statement.
      void reply.header('kpi-source', source);
      if (wantsCsv(request)) {
        const name = `kpis-${q.groupBy}-${from.toISOString().slice(0, 10)}-${to.toISOString().slice(0, 10)}.csv`;
        // The route's serializer is for JSON; this payload is already text.
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${name}"`)
          .header('vary', 'Accept')
          .serializer((payload: unknown) => payload as string)
          .send(toCsv([...report.rows, report.total]) as never);
      }
      return reply.header('vary', 'Accept').send({ from: from.toISOString(), to: to.toISOString(), groupBy: q.groupBy, tz: q.tz, ...report });
    },
  });

  registerKpiTargetRoutes(app, { db, clock, guard });
  registerAgentReportRoutes(app, { db: readDb, guard });
}
