/** The JSON the wall reads (GET /ops/api/wall, /ops/api/kpis, /ops/api/routing). */

export interface BreachRow {
  id: string;
  ticketId: string;
  ticketNumber: number;
  customerName: string | null;
  subject: string;
  channel: string;
  metric: string;
  priority: string;
  severity: number;
  teamId: string | null;
  dueAt: string;
  breachedAt: string;
  escalationLevel: number;
  state: 'open' | 'acknowledged' | 'resolved';
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  ackNote: string | null;
}

/** A running clock due soon: the ticket's columns a breach row shows, and who holds it. */
export type AtRiskRow = Pick<BreachRow, 'ticketId' | 'ticketNumber' | 'customerName' | 'subject' | 'channel' | 'metric' | 'priority' | 'teamId' | 'dueAt'> & {
  clockId: string;
  assigneeName: string | null;
};

export interface WallSnapshot {
  now: string;
  breaches: { items: BreachRow[]; total: number; open: number; acknowledged: number };
  atRisk: { items: AtRiskRow[]; total: number; withinSec: number };
  teams: { id: string; name: string }[];
}

export interface KpiTargetRow {
  id: string;
  kpi: string;
  scope: { kind: string; value?: string };
  threshold: number;
  direction: 'above' | 'below';
  windowHours: number;
  value: number | null;
  offTarget: boolean;
}

export interface AlarmRow {
  id: string;
  targetId: string;
  kpi: string;
  scope: { kind: string; value?: string };
  threshold: number;
  direction: 'above' | 'below';
  value: number | null;
  lastValue: number | null;
  raisedAt: string;
}

export interface KpiSnapshot {
  now: string;
  targets: KpiTargetRow[];
  alarms: AlarmRow[];
}

type Capacity = Record<'email' | 'phone' | 'facebook' | 'twitter', number>;

export interface RoutingSnapshot {
  queues: { teamId: string | null; channel: string; language: string | null; waiting: number; longestWaitSec: number; soonestDueAt: string | null }[];
  agents: { id: string; name: string; teamId: string | null; teamIds: string[]; presence: string; load: Capacity; capacity: Capacity }[];
}
