import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { seedDemo, type SeedSummary } from '../../../scripts/seed-demo.js';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { createDependencies, type Dependencies } from '../../../src/dependencies.js';
import type { App } from '../../../src/http/types.js';

/** `npm run seed:demo` writes what every issue-16 figure needs, so each shows something at once. */
const name = `cd_${inject('runId')}_seedfig${randomBytes(3).toString('hex')}`;
const adminUrl = inject('adminDatabaseUrl');
const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
const NOW = new Date('2026-03-01T00:00:00Z');
const queuePrefix = `cdtest${randomBytes(4).toString('hex')}`;
let summary: SeedSummary;
let deps: Dependencies | undefined;
let app: App | undefined;

beforeAll(async () => {
  summary = await seedDemo({ databaseUrl, tickets: 300, customers: 40, days: 10, seed: 11, now: NOW });
  const config = loadConfig({ DATABASE_URL: databaseUrl, REDIS_URL: inject('redisUrl'), QUEUE_PREFIX: queuePrefix, LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '0', NODE_ENV: 'test' });
  deps = createDependencies(config, { logger: pino({ level: 'silent' }) });
  app = await buildApp(deps);
  await app.ready();
}, 120_000);

afterAll(async () => {
  await app?.close();
  await deps?.close();
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`drop database if exists ${name} with (force)`);
  await client.end();
  const redis = new Redis(inject('redisUrl'));
  const keys = await redis.keys(`${queuePrefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('seed:demo and the contact-center figures', () => {
  it('every new figure of the KPI and agent reports has data', async () => {
    const headers = { authorization: `Bearer ${summary.adminToken}` };
    const range = `from=${new Date(NOW.getTime() - 10 * 86_400_000).toISOString()}&to=${NOW.toISOString()}`;
    const kpis = await app!.inject({ method: 'GET', url: `/v1/reports/kpis?${range}&groupBy=reason`, headers });
    expect(kpis.statusCode, kpis.body).toBe(200);
    const total = kpis.json<{ total: Record<string, { [k: string]: unknown }>; rows: unknown[] }>().total;
    expect(total.handleTime!.count).toBeGreaterThan(0);
    expect(total.phoneQueue!.offered).toBeGreaterThan(0);
    expect(total.serviceLevel!.rate).toEqual(expect.any(Number));
    expect(total.ces!.responded).toBeGreaterThan(0);
    expect(total.nps!.responded).toBeGreaterThan(0);
    expect(total.redress!.count).toBeGreaterThan(0);
    expect(total.occupancy).toEqual(expect.any(Number));
    expect(kpis.json<{ rows: unknown[] }>().rows.length).toBeGreaterThan(5);
    const agents = await app!.inject({ method: 'GET', url: `/v1/reports/agents?${range}&groupBy=agent`, headers });
    expect(agents.json<{ rows: { loggedInSec: number; handlingSec: number }[] }>().rows.filter((r) => r.loggedInSec > 0 && r.handlingSec > 0).length).toBeGreaterThan(0);
  });
});
