import { z } from 'zod';
import type { Database } from '../../db/client.js';
import type { Guard } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { MANAGERS } from '../auth/api-keys.models.js';
import { AGENT_GROUP_BYS, agentReportCsvRows, queryAgentReport } from './agent-report.js';
import { agentReportFromRollups } from './agent-report.rollups.js';
import { toReportCsv } from './csv.js';
import { poolOf } from '../../db/client.js';
import { wantsCsv } from './kpi.routes.js';
import { reportRange } from './report-range.js';

const DAY_MS = 86_400_000;
const MAX_RANGE_MS = 366 * DAY_MS;

const agentRow = z
  .object({
    group: z.object({ key: z.string().nullable(), label: z.string() }),
    loggedInSec: z.number().describe('online + away'),
    availableSec: z.number().describe('online'),
    awaySec: z.number(),
    handlingSec: z.number().describe('handling and after-work of every ticket, merged: work on two tickets at once counts once'),
    idleSec: z.number().describe('online and not handling'),
    occupancy: z.number().nullable().describe('handling / (handling + available idle), 0-1'),
    utilization: z.number().nullable().describe('handling / logged in, 0-1'),
    ticketsHandled: z.number().int().describe('tickets with work in the period'),
  })
  .meta({ id: 'AgentReportRow', description: 'Agent figures of one group (or the total); seconds, ratios 0-1 or null without a denominator' });

const query = z
  .object({
    from: reportRange.from,
    to: reportRange.to,
    groupBy: z.enum(AGENT_GROUP_BYS).default('agent'),
    tz: reportRange.tz.describe('The zone whose days groupBy=day cuts'),
    teamId: z.uuid().optional().describe("Only this team's agents"),
  })
  .superRefine((q, ctx) => {
    const from = Date.parse(q.from);
    const to = Date.parse(q.to);
    if (Number.isNaN(from) || Number.isNaN(to)) return;
    if (to <= from) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
    else if (to - from > MAX_RANGE_MS) ctx.addIssue({ code: 'custom', path: ['to'], message: 'the range from..to must not exceed 366 days' });
  });

/** GET /v1/reports/agents (issue 16): logged-in, available, handling, occupancy, tickets handled. */
export function registerAgentReportRoutes(app: App, deps: { db: Database; guard: Guard }): void {
  app.get('/v1/reports/agents', {
    onRequest: deps.guard(MANAGERS),
    schema: {
      tags: ['reports'],
      summary: 'Agent figures over [from, to) per agent, team or day, with a total row',
      description:
        'From the presence timeline and the work intervals: logged-in (online + away), available (online), handling (merged work), available idle, ' +
        'occupancy = handling / (handling + available idle), utilization = handling / logged in, tickets handled. Ranges of a day or more read the ' +
        'closed hours from the agent hour rollups (the kpi-source header says rollups or exact; the figures are the same). JSON, or CSV (UTF-8 with a BOM, ' +
        'formula cells neutralised) when the Accept header prefers text/csv. See the README section "KPIs".',
      security: bearerSecurity,
      querystring: query,
      response: { 200: z.object({ from: z.string(), to: z.string(), groupBy: z.enum(AGENT_GROUP_BYS), tz: z.string(), rows: z.array(agentRow), total: agentRow }), ...problemResponses() },
    },
    handler: async (request, reply) => {
      const q = request.query;
      const from = new Date(q.from);
      const to = new Date(q.to);
      const query = { from, to, groupBy: q.groupBy, tz: q.tz, teamId: q.teamId };
      // A day or more: the closed hours from agent_hour_rollups, the edges live (the same figures).
      const fromRollups = to.getTime() - from.getTime() >= DAY_MS ? await agentReportFromRollups(poolOf(deps.db), query) : null;
      const report = fromRollups ?? (await queryAgentReport(poolOf(deps.db), query));
      void reply.header('kpi-source', fromRollups ? 'rollups' : 'exact');
      if (wantsCsv(request)) {
        const csv = agentReportCsvRows([...report.rows, report.total]);
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="agents-${q.groupBy}-${from.toISOString().slice(0, 10)}-${to.toISOString().slice(0, 10)}.csv"`)
          .header('vary', 'Accept')
          .serializer((payload: unknown) => payload as string)
          .send(toReportCsv(csv.header, csv.rows) as never);
      }
      return reply.header('vary', 'Accept').send({ from: from.toISOString(), to: to.toISOString(), groupBy: q.groupBy, tz: q.tz, ...report });
    },
  });
}
