import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ensureDatabase, runMigrations } from '../../src/db/migrate.js';

/**
 * The bench's own corner of the shared Postgres and Redis: a freshly migrated database
 * cd_bench_<id>, used as a template that each benchmark clones (CREATE DATABASE … TEMPLATE
 * takes milliseconds, and every measurement then starts from empty tables), and a Redis key
 * prefix of its own. destroy() drops every cd_bench_<id>* database and deletes every
 * <prefix>* key; it is safe to call twice, and before create() finished.
 */
export interface BenchEnvironment {
  id: string;
  adminUrl: string;
  redisUrl: string;
  queuePrefix: string;
  templateName: string;
  /** Migrates the template database. */
  create(): Promise<void>;
  /** A fresh database cloned from the migrated template: cd_bench_<id>_<label>. */
  createDatabase(label: string): Promise<{ name: string; url: string }>;
  destroy(): Promise<void>;
}

export function databaseUrlFor(baseUrl: string, database: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdmin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** `id` names an existing environment (the janitor's case); a new one gets a random id. */
export function createBenchEnvironment(options: { databaseUrl: string; redisUrl: string; id?: string }): BenchEnvironment {
  const id = options.id ?? randomBytes(4).toString('hex');
  if (!/^[0-9a-f]{8}$/.test(id)) throw new Error(`bench environment id ${id} is not 8 hex digits`);
  const templateName = `cd_bench_${id}`;
  const adminUrl = databaseUrlFor(options.databaseUrl, 'postgres');
  const queuePrefix = `cdbench${id}`;

  return {
    id,
    adminUrl,
    redisUrl: options.redisUrl,
    queuePrefix,
    templateName,

    async create() {
      const url = databaseUrlFor(options.databaseUrl, templateName);
      await ensureDatabase(url);
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      try {
        await runMigrations(pool);
      } finally {
        // A template must have no open connections while it is being cloned.
        await pool.end();
      }
    },

    async createDatabase(label) {
      if (!/^[a-z0-9_]{1,30}$/.test(label)) throw new Error(`database label ${label} must be [a-z0-9_]`);
      const name = `${templateName}_${label}`;
      await withAdmin(adminUrl, async (client) => {
        await client.query(`drop database if exists "${name}" with (force)`);
        await client.query(`create database "${name}" template "${templateName}"`);
      });
      return { name, url: databaseUrlFor(options.databaseUrl, name) };
    },

    async destroy() {
      const problems: string[] = [];
      try {
        await withAdmin(adminUrl, async (client) => {
          const { rows } = await client.query<{ datname: string }>(
            `select datname from pg_database where datname = $1 or datname like $2 order by length(datname) desc`,
            [templateName, `${templateName.replaceAll('_', '\\_')}\\_%`],
          );
          // Clones first (longer names): the template cannot go while a clone is being made from it.
          for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
        });
      } catch (error) {
        problems.push(`postgres: ${(error as Error).message}`);
      }
      const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
      try {
        await redis.connect();
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.unlink(...keys);
          cursor = next;
        } while (cursor !== '0');
      } catch (error) {
        problems.push(`redis: ${(error as Error).message}`);
      } finally {
        redis.disconnect();
      }
      if (problems.length > 0) throw new Error(`cleanup incomplete (${problems.join('; ')})`);
    },
  };
}
