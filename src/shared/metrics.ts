import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics, one registry per process (tests build several apps in one process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  /** Set by the routing service: reads the routing gauges' figures from Postgres (see routingWaiting). */
  const routingGauges: { refresh?: () => Promise<void> } = {};
  return {
    registry,
    slaBreaches: new Counter({ name: 'complaint_desk_sla_breaches_total', help: 'SLA breaches recorded', labelNames: ['channel', 'metric'], registers: [registry] }),
    slaWarnings: new Counter({ name: 'complaint_desk_sla_warnings_total', help: 'SLA warnings recorded', labelNames: ['channel', 'metric'], registers: [registry] }),
    timerLateness: new Histogram({
      name: 'complaint_desk_sla_timer_lateness_seconds',
      help: 'When a breach was recorded minus when it was due',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    dependencyUp: new Gauge({
      name: 'complaint_desk_dependency_up',
      help: '1 while Postgres or Redis is reachable, as this process\'s connections last reported; 0 during an outage',
      labelNames: ['dependency'],
      registers: [registry],
    }),
    // Routing (issue 13). The latency histogram is observed where an assignment is made (each
    // process counts its own; Prometheus sums them). The gauges describe shared state: every
    // process's /metrics reads them from Postgres when scraped (each gauge's collect awaits
    // the same read, which sets all three), so an API process answers the same as a worker.
    routingLatency: new Histogram({
      name: 'complaint_desk_routing_latency_seconds',
      help: 'A routed assignment minus when its ticket was opened',
      labelNames: ['channel', 'reason'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: [registry],
    }),
    routingGauges,
    routingWaiting: new Gauge({
      name: 'complaint_desk_routing_waiting_tickets',
      help: 'Unassigned new or open tickets per team, channel and language',
      labelNames: ['team', 'channel', 'language'],
      registers: [registry],
      collect: () => routingGauges.refresh?.(),
    }),
    routingLongestWait: new Gauge({
      name: 'complaint_desk_routing_longest_wait_seconds',
      help: 'The longest wait per team, channel and language',
      labelNames: ['team', 'channel', 'language'],
      registers: [registry],
      collect: () => routingGauges.refresh?.(),
    }),
    routingAgents: new Gauge({ name: 'complaint_desk_routing_agents', help: 'Active agents per presence', labelNames: ['presence'], registers: [registry], collect: () => routingGauges.refresh?.() }),
    partitionChanges: new Counter({ name: 'complaint_desk_partitions_total', help: 'Month partitions created or dropped by the maintenance job', labelNames: ['table', 'action'], registers: [registry] }),
    queueDepth: new Gauge({ name: 'complaint_desk_queue_jobs', help: 'Jobs per queue and state', labelNames: ['queue', 'state'], registers: [registry] }),
    // Issue 18: how many webhooks share an intake transaction (group commit): GROUP_MAX and
    // GROUPS_IN_FLIGHT are tuned by it. Every attempt counts, a retried half too.
    intakeGroupSize: new Histogram({
      name: 'complaint_desk_intake_group_deliveries',
      help: 'Deliveries (webhooks, fetched e-mails) per intake group-commit transaction',
      buckets: [1, 2, 4, 8, 16],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'complaint_desk_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
