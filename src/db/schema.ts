/** Every table, gathered for drizzle-kit and for typed queries. */
export * from '../http/idempotency.table.js';
export * from '../modules/agents/agents.table.js';
export * from '../modules/auth/api-keys.table.js';
export * from '../modules/blocklist/blocklist.table.js';
export * from '../modules/csat/csat.table.js';
export * from '../modules/customers/customers.table.js';
export * from '../modules/delivery/delivery.table.js';
export * from '../modules/intake/intake.table.js';
export * from '../modules/notifications/notifications.table.js';
export * from '../modules/reports/kpi-targets.table.js';
export * from '../modules/reports/kpi-rollups.table.js';
export * from '../modules/routing/routing.table.js';
export * from '../modules/sla/sla.table.js';
export * from '../modules/teams/teams.table.js';
export * from '../modules/tickets/messages.table.js';
export * from '../modules/tickets/ticket-events.table.js';
export * from '../modules/tickets/tickets.table.js';
