import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { procStatusMb } from './service.js';

/**
 * What the machine was doing while a benchmark measured: evidence for "what limits this
 * figure". Samples, every `intervalMs`, the service's Postgres sessions (state and wait event,
 * from pg_stat_activity) and, between start and stop, the CPU time of the machine, of the
 * service process, of the Postgres backends serving it and of the Redis server.
 */
export interface ObserverReport {
  seconds: number;
  samples: number;
  /** All cores: 100% = both cores of this machine busy. */
  machineBusyPct: number;
  /** Percent of one core. */
  serviceCpuPct: number;
  /** Percent of one core, summed over the backends of the service's database seen at the samples. */
  postgresCpuPct: number;
  /** Percent of one core (Redis INFO cpu), when a Redis connection was given. */
  redisCpuPct: number | null;
  /** The service's VmRSS when observing began, its highest sample, and at the end. */
  serviceRssMb: { start: number; max: number; end: number };
  /** Average number of the service's sessions per "state wait_event_type:wait_event", busiest first. */
  sessions: Record<string, number>;
  /** One line for the log and the notes. */
  summary: string;
}

const TICKS_PER_SECOND = 100;

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, v) => sum + v, 0);
  // idle + iowait
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** utime + stime of a process in ticks, or NaN once it is gone. */
export function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return NaN;
  }
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? NaN);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? NaN);
  return user + sys;
}

export interface Observer {
  stop(): Promise<ObserverReport>;
}

export async function startObserver(options: { pool: pg.Pool; database: string; servicePid: number; redis?: Redis; intervalMs?: number }): Promise<Observer> {
  const { pool, database, servicePid, redis } = options;
  const started = performance.now();
  const machineStart = machineTicks();
  const serviceStart = processTicks(servicePid);
  const redisStart = redis ? await redisCpuSeconds(redis).catch(() => NaN) : NaN;
  /** First and last CPU ticks of every backend pid seen. */
  const backends = new Map<number, { first: number; last: number }>();
  const counts = new Map<string, number>();
  let samples = 0;
  let busy = false;
  const rssStart = procStatusMb(servicePid, 'VmRSS');
  let rssMax = rssStart;

  const sample = async () => {
    if (busy) return;
    busy = true;
    try {
      const { rows } = await pool.query<{ pid: number; state: string | null; wait: string | null }>(
        `select pid, state, wait_event_type || ':' || wait_event as wait
           from pg_stat_activity
          where datname = $1 and pid <> pg_backend_pid() and backend_type = 'client backend'
            and application_name not like 'bench%'`,
        [database],
      );
      samples++;
      const rss = procStatusMb(servicePid, 'VmRSS');
      if (rss > rssMax) rssMax = rss;
      for (const row of rows) {
        const key = `${row.state ?? 'unknown'}${row.wait && row.state !== 'idle' ? ` ${row.wait}` : ''}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        const ticks = processTicks(row.pid);
        if (!Number.isFinite(ticks)) continue;
        const seen = backends.get(row.pid);
        if (seen) seen.last = ticks;
        else backends.set(row.pid, { first: ticks, last: ticks });
      }
    } catch {
      // A sampler must never fail the benchmark.
    } finally {
      busy = false;
    }
  };
  await sample();
  const timer = setInterval(() => void sample(), options.intervalMs ?? 500);

  return {
    async stop() {
      clearInterval(timer);
      await sample();
      const seconds = (performance.now() - started) / 1000;
      const machineEnd = machineTicks();
      const serviceEnd = processTicks(servicePid);
      const redisEnd = redis ? await redisCpuSeconds(redis).catch(() => NaN) : NaN;
      let postgresTicks = 0;
      for (const { first, last } of backends.values()) postgresTicks += last - first;
      const pct = (ticks: number) => (100 * ticks) / TICKS_PER_SECOND / seconds;
      const sessions = Object.fromEntries(
        [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([key, n]) => [key, Math.round((100 * n) / Math.max(1, samples)) / 100]),
      );
      const report: ObserverReport = {
        seconds,
        samples,
        machineBusyPct: (100 * (machineEnd.busy - machineStart.busy)) / Math.max(1, machineEnd.total - machineStart.total),
        serviceCpuPct: pct(serviceEnd - serviceStart),
        postgresCpuPct: pct(postgresTicks),
        redisCpuPct: Number.isFinite(redisEnd - redisStart) ? (100 * (redisEnd - redisStart)) / seconds : null,
        serviceRssMb: { start: rssStart, max: rssMax, end: procStatusMb(servicePid, 'VmRSS') },
        sessions,
        summary: '',
      };
      const top = Object.entries(sessions)
        .slice(0, 4)
        .map(([key, n]) => `${n.toFixed(1)} ${key}`)
        .join(', ');
      report.summary =
        `CPU: machine ${report.machineBusyPct.toFixed(0)}% of 2 cores, service ${report.serviceCpuPct.toFixed(0)}%, ` +
        `its Postgres backends ${report.postgresCpuPct.toFixed(0)}%${report.redisCpuPct === null ? '' : `, Redis ${report.redisCpuPct.toFixed(0)}%`} of one core; ` +
        `service RSS ${report.serviceRssMb.start.toFixed(0)} -> max ${report.serviceRssMb.max.toFixed(0)} MB; ` +
        `service sessions on average: ${top || 'none'}`;
      return report;
    },
  };
}
