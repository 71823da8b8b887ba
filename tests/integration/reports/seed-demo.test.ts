import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { Redis } from 'ioredis';
import { seedDemo, SeedRefusedError, type SeedSummary } from '../../../scripts/seed-demo.js';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { createDependencies, type Dependencies } from '../../../src/dependencies.js';
import type { App } from '../../../src/http/types.js';

/**
 * `npm run seed:demo` against a database that does not exist yet: the script creates and migrates
 * it, seeds it, and the KPI report answers over the seeded month with the admin key it printed.
 */
const name = `cd_${inject('runId')}_seed${randomBytes(3).toString('hex')}`;
const adminUrl = inject('adminDatabaseUrl');
const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
const NOW = new Date('2026-03-01T00:00:00Z');
const OPTIONS = { databaseUrl, tickets: 200, customers: 40, days: 10, seed: 7, now: NOW };

let summary: SeedSummary;
const queuePrefix = `cdtest${randomBytes(4).toString('hex')}`;
let deps: Dependencies | undefined;
let app: App | undefined;

beforeAll(async () => {
  summary = await seedDemo(OPTIONS);
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
  // The service's queues wrote their meta keys under this file's prefix: the Redis is shared.
  const redis = new Redis(inject('redisUrl'));
  const keys = await redis.keys(`${queuePrefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('seed:demo', () => {
  it('creates a month of multi-channel, multi-language complaints with everything the KPIs read', () => {
    expect(summary).toMatchObject({ teams: 4, agents: 16, customers: 40, tickets: 200 });
    for (const count of ['messages', 'events', 'clocks', 'breaches', 'commitments', 'surveys'] as const) expect(summary[count], count).toBeGreaterThan(0);
    expect(summary.byStatus.closed! + summary.byStatus.solved!).toBeGreaterThan(100);
    expect(summary.adminToken).toMatch(/^cdk_/);
    expect(summary.ms).toBeLessThan(60_000);
  });

  it('feeds the KPI report, read with the admin key it printed', async () => {
    const res = await app!.inject({
      method: 'GET',
      url: `/v1/reports/kpis?from=${summary.from.toISOString()}&to=${NOW.toISOString()}&groupBy=channel`,
      headers: { authorization: `Bearer ${summary.adminToken}` },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ rows: { group: { key: string }; createdCount: number }[]; total: Record<string, unknown> & { createdCount: number; csat: { offered: number }; sla: { first_response: { met: number } } } }>();
    expect(body.rows.map((r) => r.group.key).sort()).toEqual(['email', 'facebook', 'phone', 'twitter']);
    expect(body.total.createdCount).toBe(200);
    expect(body.total.csat.offered).toBeGreaterThan(0);
    expect(body.total.sla.first_response.met).toBeGreaterThan(0);

    const byLanguage = await app!.inject({
      method: 'GET',
      url: `/v1/reports/kpis?from=${summary.from.toISOString()}&to=${NOW.toISOString()}&groupBy=language`,
      headers: { authorization: `Bearer ${summary.adminToken}` },
    });
    expect(byLanguage.json<{ rows: { group: { key: string } }[] }>().rows.map((r) => r.group.key).sort()).toEqual(['ar', 'en', 'he', 'pl', 'ru']);
  });

  it('refuses a database that has tickets unless forced, and is deterministic for a seed', async () => {
    await expect(seedDemo(OPTIONS)).rejects.toBeInstanceOf(SeedRefusedError);
    const again = await seedDemo({ ...OPTIONS, force: true });
    const stable = ({ adminToken: _t, ms: _ms, ...rest }: SeedSummary) => rest;
    expect(stable(again)).toEqual(stable(summary));
  });
});
