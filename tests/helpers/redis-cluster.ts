import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { until } from './sla.js';

const run = promisify(execFile);

/** Redis Cluster's bus listens on the client port + 10000: both must be free. */
const BUS_OFFSET = 10_000;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback port below 55536 whose cluster-bus port (+10000) is free as well. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (taken.has(port) || taken.has(port + BUS_OFFSET)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + BUS_OFFSET))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 20_000 });
  return stdout;
}

export interface LocalRedisCluster {
  /** host:port of every master, the REDIS_CLUSTER_NODES value. */
  nodes: string[];
  ports: number[];
  /** Number of keys each master holds (to show they are spread or where they went). */
  keysPerNode(): Promise<number[]>;
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` masters (no replicas) of the test's own: redis-server in
 * cluster mode on free loopback ports, each with a directory of its own (nodes.conf), joined
 * with `redis-cli --cluster create`. No persistence; stop() kills the servers and removes
 * the directories. The shared Redis is never touched.
 */
export async function startRedisCluster(masters = 3): Promise<LocalRedisCluster> {
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await freeClusterPort(taken));
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const dir = mkdtempSync(join(tmpdir(), 'cd-redis-cluster-'));
      dirs.push(dir);
      children.push(
        spawn(
          'redis-server',
          ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--dir', dir, '--save', '', '--appendonly', 'no'],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of ports) {
      await until(async () => ((await cli(port, 'ping').catch(() => '')).trim() === 'PONG' ? true : undefined), { timeoutMs: 10_000, what: `redis-server (cluster) on ${port}` });
    }
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    // Every node must agree the cluster is whole before a client connects (slots all covered).
    for (const port of ports) {
      await until(async () => ((await cli(port, 'cluster', 'info')).includes('cluster_state:ok') ? true : undefined), { timeoutMs: 20_000, what: `cluster_state:ok on ${port}` });
    }
    return {
      nodes,
      ports,
      keysPerNode: () => Promise.all(ports.map(async (p) => Number((await cli(p, 'dbsize')).trim()))),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
