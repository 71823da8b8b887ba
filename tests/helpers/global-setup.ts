import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { runMigrations } from '../../src/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    templateDatabase: string;
    redisUrl: string;
    runId: string;
  }
}

/**
 * Postgres and Redis for the whole run: the ones named by DATABASE_URL and REDIS_URL when
 * set (CI and the dev machines), else containers started by testcontainers (a laptop with
 * Docker). The schema is migrated once into a template database; every test file then clones
 * it (CREATE DATABASE … TEMPLATE), which takes milliseconds and isolates files completely.
 */
export default async function setup(project: TestProject) {
  const stops: (() => Promise<unknown>)[] = [];
  let databaseUrl = process.env.DATABASE_URL;
  let redisUrl = process.env.REDIS_URL;
  if (!databaseUrl) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:15-alpine').start();
    databaseUrl = container.getConnectionUri();
    stops.push(() => container.stop());
  }
  if (!redisUrl) {
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7-alpine').start();
    redisUrl = container.getConnectionUrl();
    stops.push(() => container.stop());
  }

  const runId = randomBytes(4).toString('hex');
  const templateDatabase = `cd_tpl_${runId}`;
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const adminDatabaseUrl = admin.toString();

  const client = new pg.Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  await client.query(`create database ${templateDatabase}`);
  const templateUrl = new URL(adminDatabaseUrl);
  templateUrl.pathname = `/${templateDatabase}`;
  const pool = new pg.Pool({ connectionString: templateUrl.toString(), max: 2 });
  await runMigrations(pool);
  await pool.end();

  project.provide('adminDatabaseUrl', adminDatabaseUrl);
  project.provide('templateDatabase', templateDatabase);
  project.provide('redisUrl', redisUrl);
  project.provide('runId', runId);

  return async () => {
    // Drop this run's databases, including any a crashed file left behind.
    const { rows } = await client.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`cd_%${runId}%`]);
    for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
    await client.end();
    for (const stop of stops) await stop();
  };
}
