import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError, LinkState, ignoringOutages, reconnectDelay, unavailableDependency } from '../../../src/shared/link-state.js';

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('LinkState', () => {
  it('logs one line when the dependency goes away and one when it is back, however many failures in between', () => {
    const { logger, lines } = capturingLogger();
    const changes: boolean[] = [];
    const link = new LinkState('redis', logger, (up) => changes.push(up));
    link.restored();
    for (let i = 0; i < 50; i++) link.lost(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }));
    expect(link.up).toBe(false);
    for (let i = 0; i < 5; i++) link.restored();
    expect(link.up).toBe(true);
    // The metric gauge follows the same changes (set once at start).
    expect(changes).toEqual([true, false, true]);
    expect(lines.map((l) => l.msg)).toEqual(['redis unreachable: retrying with backoff', 'redis reachable again']);
    expect(lines[0]).toMatchObject({ level: 50, dependency: 'redis', reason: 'connect ECONNREFUSED 127.0.0.1:6379' });
    expect(lines[1]).toMatchObject({ level: 40, dependency: 'redis' });
    expect(typeof lines[1]!.downMs).toBe('number');
    // A line has no stack: one short reason.
    expect(JSON.stringify(lines)).not.toContain('    at ');
  });
});

describe('reconnectDelay', () => {
  it('grows exponentially from 100 ms to a 5 s cap, with up to half of it random', () => {
    expect([1, 2, 3, 4].map((n) => reconnectDelay(n, () => 1))).toEqual([100, 200, 400, 800]);
    expect([1, 2, 3, 4].map((n) => reconnectDelay(n, () => 0))).toEqual([50, 100, 200, 400]);
    for (const attempt of [7, 10, 50, 10_000]) {
      expect(reconnectDelay(attempt, () => 1)).toBe(5_000);
      expect(reconnectDelay(attempt, () => 0)).toBe(2_500);
    }
  });
});

describe('unavailableDependency', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
  it('recognises Postgres outages: terminated backends, refused and dropped connections, start-up', () => {
    expect(unavailableDependency(pgError('57P01', 'terminating connection due to administrator command'))).toBe('postgres');
    expect(unavailableDependency(pgError('57P03', 'the database system is starting up'))).toBe('postgres');
    expect(unavailableDependency(pgError('08006', 'connection failure'))).toBe('postgres');
    expect(unavailableDependency(new Error('Connection terminated unexpectedly'))).toBe('postgres');
    expect(unavailableDependency(new Error('Client has encountered a connection error and is not queryable'))).toBe('postgres');
    // drizzle wraps the driver's error.
    expect(unavailableDependency(new Error('Failed query: insert into …', { cause: pgError('57P01', 'terminating connection') }))).toBe('postgres');
  });
  it('recognises Redis refusals while disconnected', () => {
    expect(unavailableDependency(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('redis');
    expect(unavailableDependency(new Error('Connection is closed.'))).toBe('redis');
    expect(unavailableDependency(new Error('Command timed out'))).toBe('redis');
    expect(unavailableDependency(new DependencyUnavailableError('redis', 'Redis is unavailable'))).toBe('redis');
  });
  it('leaves every other error alone: a constraint violation or a bug is not an outage', () => {
    expect(unavailableDependency(pgError('23505', 'duplicate key value violates unique constraint'))).toBeNull();
    expect(unavailableDependency(pgError('22008', 'date/time field value out of range'))).toBeNull();
    expect(unavailableDependency(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBeNull();
    expect(unavailableDependency('a string')).toBeNull();
  });
});

describe('ignoringOutages', () => {
  it('passes on every error but those that only say a dependency is unreachable', () => {
    const seen: string[] = [];
    const handle = ignoringOutages((error) => seen.push(error.message));
    handle(new Error('Connection is closed.'));
    handle(Object.assign(new Error('terminating connection'), { code: '57P01' }));
    handle(new Error('Missing lock for job 12. moveToFinished'));
    expect(seen).toEqual(['Missing lock for job 12. moveToFinished']);
  });
});
