import type { BenchEnvironment } from './environment.js';
import type { Row } from './report.js';
import type { RunningService, ServiceOptions } from './service.js';

export type Mode = 'quick' | 'full';

/** What a benchmark gets from the runner. */
export interface BenchContext {
  mode: Mode;
  /** The size for this run: the mode's default or a --size override. */
  size: number;
  env: BenchEnvironment;
  /** The ADMIN_API_KEY every service child is started with. */
  adminApiKey: string;
  /** Starts the service in a child process against a database of this run (see lib/service.ts). */
  startService(options: Pick<ServiceOptions, 'label' | 'databaseUrl' | 'env'>): Promise<RunningService>;
  /** A progress line, prefixed with the elapsed time and the benchmark's name. */
  log(message: string): void;
  /** Aborted on Ctrl-C: stop loops and return. */
  signal: AbortSignal;
  /** Anything worth keeping in latest.json beside the rows (plans, status counts, per-channel counts). */
  details: Record<string, unknown>;
}

/**
 * One benchmark: a file under bench/benchmarks/, listed in bench/benchmarks/index.ts. Product
 * pieces that do not exist yet return rows made with notBuilt(); when the piece lands, its
 * product side replaces the placeholder in the same file.
 */
export interface Benchmark {
  name: string;
  /** One line for --help and the README. */
  description: string;
  /** What `size` counts, for the progress lines ("messages", "tickets", "timers"). */
  sizeUnit: string;
  sizes: Record<Mode, number>;
  run(context: BenchContext): Promise<Row[]>;
}
