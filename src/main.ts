import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { ensureDatabase, runMigrations } from './db/migrate.js';
import { createDependencies } from './dependencies.js';
import { trackConnections } from './shared/connection-drain.js';
import { describeError } from './shared/error-description.js';
import { installDefaultPolicies } from './modules/sla/policies/sla.defaults.js';
import { startWorkers, type RunningWorker } from './workers/index.js';
import { startSmtpListener } from './channels/email/smtp-listener.js';
import { startMetricsServer } from './workers/metrics-server.js';

/** Whether the database holds an admin key that is not revoked (read-only; the auth module owns the table). */
async function anyAdminKey(pool: { query(text: string): Promise<{ rows: { found: boolean }[] }> }): Promise<boolean> {
  const { rows } = await pool.query(`select exists (select 1 from api_keys where role = 'admin' and revoked_at is null) as found`);
  return rows[0]?.found === true;
}

/** Prepares the database (create if missing, migrate) and starts the roles this process runs. */
export async function start(config: Config) {
  const deps = createDependencies(config);
  const { logger } = deps;
  let app: Awaited<ReturnType<typeof buildApp>> | null = null;
  let connections: ReturnType<typeof trackConnections> | null = null;
  const workers: RunningWorker[] = [];

  // Installed before anything that can wait (Postgres, Redis, migrations): a SIGTERM during a
  // start that hangs on an unreachable dependency still stops the process, and stops only
  // what was started.
  let stopping = false;
  async function stop(signal: string) {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new requests, finishing in-flight work');
    const force = setTimeout(() => {
      logger.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_SEC * 1000);
    force.unref();
    try {
      // Connections with no request end now, the others after their response; Fastify's
      // close ends open event streams (preClose), stops accepting connections and waits for
      // in-flight requests.
      connections?.drain();
      await app?.close();
      await Promise.all(workers.map((w) => w.close()));
      await deps.close();
    } catch (error) {
      logger.error({ err: error }, 'error while shutting down');
      process.exit(1);
    }
    logger.info('stopped');
    process.exit(0);
  }
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));

  await ensureDatabase(config.DATABASE_URL, logger);
  await runMigrations(deps.pool);
  logger.info('migrations applied');
  if (config.ADMIN_API_KEY) await deps.apiKeys.ensureEnvAdmin(config.ADMIN_API_KEY);
  else if (config.NODE_ENV === 'production' && config.ROLE !== 'worker' && !(await anyAdminKey(deps.pool))) {
    // Nobody could ever get in: no key in the environment and no admin key in the database.
    throw new ConfigError(['ADMIN_API_KEY: required when NODE_ENV=production and the database holds no admin key (the image ships none)']);
  }
  if (config.INSTALL_DEFAULT_POLICIES && (await installDefaultPolicies(deps.db))) logger.info('installed the default SLA policies');
  if (stopping) return { app, deps, workers };

  app = config.ROLE === 'worker' ? null : await buildApp(deps);
  if (app) {
    connections = trackConnections(app.server);
    await app.listen({ port: config.PORT, host: config.HOST });
  }
  if (config.ROLE !== 'api' && !stopping) workers.push(...(await startWorkers(deps)));
  // The inbound SMTP listener (issue 19) is an ingress like the API: it runs where the API runs.
  if (config.ROLE !== 'worker' && config.SMTP_LISTEN_PORT > 0 && !stopping) {
    const smtp = await startSmtpListener({
      port: config.SMTP_LISTEN_PORT,
      host: config.SMTP_LISTEN_HOST,
      hostname: config.SMTP_HOSTNAME,
      tlsCertFile: config.SMTP_TLS_CERT_FILE,
      tlsKeyFile: config.SMTP_TLS_KEY_FILE,
      acceptRecipients: config.SMTP_ACCEPT_RECIPIENTS,
      sizeLimitBytes: config.EMAIL_BODY_LIMIT_BYTES,
      intake: deps.intake,
      clock: deps.clock,
      logger,
    });
    // Closed before the workers and the pools: no message is accepted that could not commit.
    workers.unshift({ name: 'smtp-listener', close: () => smtp.close() });
  }
  // A worker-only process has no API port: its SLA, routing and queue figures get one of their own.
  if (config.ROLE === 'worker' && config.METRICS_PORT > 0 && !stopping) {
    const metricsServer = await startMetricsServer(deps, config.METRICS_PORT, config.HOST);
    workers.push({ name: 'metrics', close: () => metricsServer.close() });
  }
  logger.info({ role: config.ROLE, port: app ? config.PORT : undefined, metricsPort: config.ROLE === 'worker' && config.METRICS_PORT > 0 ? config.METRICS_PORT : undefined }, 'complaint-desk started');
  return { app, deps, workers };
}

try {
  await start(loadConfig());
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  // One JSON line like every other log line (no stack dump): what failed and why.
  process.stderr.write(`${JSON.stringify({ level: 60, time: Date.now(), msg: 'complaint-desk failed to start', reason: describeError(error) })}\n`);
  process.exit(1);
}
