import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import type { Logger } from 'pino';
import { createDatabase } from './client.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Creates the database named in the URL when it does not exist yet (a fresh machine). */
export async function ensureDatabase(url: string, logger?: Logger): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) return;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`create database "${name.replaceAll('"', '""')}"`);
        logger?.info({ database: name }, 'created database');
      } catch (error) {
        // Two processes starting at once may race to create it; the loser finds it exists.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
  } finally {
    await client.end();
  }
}

/** Applies drizzle-kit's SQL migrations; drizzle's migrator records what ran. */
export async function runMigrations(pool: pg.Pool): Promise<void> {
  // An advisory lock keeps several starting replicas from migrating at once.
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock(726345001)');
    await migrate(createDatabase(pool), { migrationsFolder: MIGRATIONS_DIR });
  } finally {
    await client.query('select pg_advisory_unlock(726345001)').catch(() => undefined);
    client.release();
  }
}
