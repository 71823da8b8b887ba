import type { Benchmark } from '../lib/bench.js';
import { imap } from './imap.js';
import { ingest } from './ingest.js';
import { kpis } from './kpis.js';
import { queries } from './queries.js';
import { routing } from './routing.js';
import { scale } from './scale.js';
import { timers } from './timers.js';
import { events } from './events.js';

/** Every benchmark, in the order they run; a new one is a file beside these and a line here. */
export const BENCHMARKS: readonly Benchmark[] = [ingest, timers, queries, kpis, routing, scale, imap, events];
