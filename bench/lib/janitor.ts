/**
 * The interrupted bench's cleanup, in a detached process of its own: on Ctrl-C the runner may
 * not live to finish it (tsx's CLI relays the signal and SIGKILLs a child that is slow to
 * acknowledge it, which a busy event loop is). Stops the child processes the runner names by
 * id, then drops cd_bench_<id>* and deletes cdbench<id>* keys.
 *
 *   node --import tsx bench/lib/janitor.ts   (BENCH_ID, BENCH_PIDS, DATABASE_URL, REDIS_URL)
 */
import { createBenchEnvironment } from './environment.js';

const { BENCH_ID, BENCH_PIDS = '', DATABASE_URL, REDIS_URL } = process.env;
if (!BENCH_ID || !DATABASE_URL || !REDIS_URL) {
  console.error('janitor: started by bench/run.ts with BENCH_ID, DATABASE_URL and REDIS_URL');
  process.exit(2);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const pids = BENCH_PIDS.split(',').filter(Boolean).map(Number);
for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
const deadline = Date.now() + 10_000;
while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');

const env = createBenchEnvironment({ databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, id: BENCH_ID });
try {
  await env.destroy();
  console.error(`bench cleanup: dropped ${env.templateName}* and deleted ${env.queuePrefix}* keys`);
} catch (error) {
  console.error(`bench cleanup: ${(error as Error).message}; drop ${env.templateName}* and delete ${env.queuePrefix}* by hand`);
  process.exit(1);
}
