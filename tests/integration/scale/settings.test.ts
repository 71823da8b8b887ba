import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { createIsolatedEnvironment } from '../../helpers/context.js';
import { exitWithin, freePort, killHard, spawnService, type ServiceProcess } from '../resilience/support.js';

/** The settings of a scaled-out install, and the admin key a production start insists on. */
const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
};

describe('scale-out settings', () => {
  it('takes a Redis Cluster only with a hash-tag prefix', () => {
    expect(problemsOf({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000', QUEUE_PREFIX: 'cd' })).toEqual(['QUEUE_PREFIX: must be a hash tag such as {cd} when REDIS_CLUSTER_NODES is set']);
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-2:7000', QUEUE_PREFIX: '{cd}' }).REDIS_CLUSTER_NODES).toEqual(['10.0.0.1:7000', 'redis-2:7000']);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'redis-1', QUEUE_PREFIX: '{cd}' })[0]).toMatch(/^REDIS_CLUSTER_NODES\.0: host:port/);
    expect(problemsOf({ QUEUE_PREFIX: '{cd' })[0]).toMatch(/^QUEUE_PREFIX:/);
  });

  it('reads METRICS_PORT and DATABASE_READ_URL', () => {
    expect(loadConfig({}).METRICS_PORT).toBe(9464);
    expect(loadConfig({ METRICS_PORT: '0', DATABASE_READ_URL: '' })).toMatchObject({ METRICS_PORT: 0, DATABASE_READ_URL: undefined });
    expect(problemsOf({ DATABASE_READ_URL: 'mysql://x/y' })[0]).toMatch(/^DATABASE_READ_URL: a postgres:\/\/ URL/);
  });

  it('refuses a published example admin key in production, not in development', () => {
    expect(problemsOf({ NODE_ENV: 'production', ADMIN_API_KEY: 'dev-admin-key-change-me' })).toEqual(['ADMIN_API_KEY: a published example key; choose a secret of your own when NODE_ENV=production']);
    expect(problemsOf({ NODE_ENV: 'production', ADMIN_API_KEY: 'change-me-to-a-long-secret' })).toHaveLength(1);
    expect(loadConfig({ ADMIN_API_KEY: 'dev-admin-key-change-me' }).ADMIN_API_KEY).toBe('dev-admin-key-change-me');
  });
});

describe('a production API process without ADMIN_API_KEY', () => {
  let environment: Awaited<ReturnType<typeof createIsolatedEnvironment>>;
  let service: ServiceProcess | undefined;
  beforeAll(async () => {
    environment = await createIsolatedEnvironment();
  });
  afterAll(async () => {
    await killHard(service?.child);
    await environment?.drop();
  });

  it('refuses to start while the database holds no admin key', async () => {
    service = spawnService({ DATABASE_URL: environment.databaseUrl, REDIS_URL: environment.redisUrl, QUEUE_PREFIX: environment.queuePrefix, ROLE: 'api', PORT: String(await freePort()) });
    const exit = await exitWithin(service.child, 60_000);
    expect(exit).toEqual({ code: 2, signal: null });
    expect(service.lines.join('\n')).toContain('ADMIN_API_KEY: required when NODE_ENV=production and the database holds no admin key');
  }, 90_000);
});
