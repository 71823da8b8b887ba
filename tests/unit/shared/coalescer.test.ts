import { describe, expect, it } from 'vitest';
import { createCoalescer } from '../../../src/shared/coalescer.js';

/** A batch runner the test releases by hand, recording what each call received. */
function gatedRunner() {
  const calls: number[][] = [];
  const gates: (() => void)[] = [];
  let failOn: number | null = null;
  const run = async (requests: number[]) => {
    calls.push(requests);
    await new Promise<void>((resolve) => gates.push(resolve));
    if (failOn !== null && requests.includes(failOn)) throw new Error(`poisoned by ${failOn}`);
    return requests.map((r) => r * 10);
  };
  const releaseAll = async () => {
    // Released batches may start new ones: keep releasing until the runner goes quiet.
    for (let idle = 0; idle < 5; ) {
      await new Promise((resolve) => setImmediate(resolve));
      if (gates.length === 0) idle++;
      else {
        idle = 0;
        gates.splice(0).forEach((release) => release());
      }
    }
  };
  return { run, calls, releaseAll, poison: (n: number) => (failOn = n) };
}

describe('createCoalescer', () => {
  it('runs requests of the same tick as one batch and answers each with its own result', async () => {
    const runner = gatedRunner();
    const coalescer = createCoalescer(runner.run, { maxBatch: 100, maxInFlight: 2 });
    const answers = Promise.all([1, 2, 3].map((n) => coalescer.request(n)));
    await runner.releaseAll();
    expect(await answers).toEqual([10, 20, 30]);
    expect(runner.calls).toEqual([[1, 2, 3]]);
  });

  it('queues requests while every slot is busy and sends them together, at most maxBatch at a time', async () => {
    const runner = gatedRunner();
    const coalescer = createCoalescer(runner.run, { maxBatch: 3, maxInFlight: 1 });
    const first = coalescer.request(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(runner.calls).toEqual([[0]]);
    const rest = Promise.all([1, 2, 3, 4, 5, 6, 7].map((n) => coalescer.request(n)));
    await new Promise((resolve) => setImmediate(resolve));
    // The only slot is busy: nothing else started, everything waits.
    expect(runner.calls).toHaveLength(1);
    expect(coalescer.waiting).toBe(7);
    await runner.releaseAll();
    expect(await first).toBe(0);
    expect(await rest).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(runner.calls).toEqual([[0], [1, 2, 3], [4, 5, 6], [7]]);
  });

  it('never runs more than maxInFlight batches at once', async () => {
    let running = 0;
    let most = 0;
    const coalescer = createCoalescer(
      async (requests: number[]) => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        return requests;
      },
      { maxBatch: 2, maxInFlight: 3 },
    );
    const requests = Array.from({ length: 40 }, (_, i) => i);
    expect(await Promise.all(requests.map((n) => coalescer.request(n)))).toEqual(requests);
    expect(most).toBe(3);
  });

  it('retries a failed batch in halves, so only the poisonous request fails', async () => {
    const runner = gatedRunner();
    runner.poison(6);
    const coalescer = createCoalescer(runner.run, { maxBatch: 10, maxInFlight: 1 });
    const requests = [1, 2, 3, 4, 5, 6, 7, 8];
    const settled = Promise.allSettled(requests.map((n) => coalescer.request(n)));
    await runner.releaseAll();
    const results = await settled;
    expect(results.map((r) => r.status)).toEqual(requests.map((n) => (n === 6 ? 'rejected' : 'fulfilled')));
    expect(results[0]).toMatchObject({ value: 10 });
    expect(results[5]).toMatchObject({ reason: new Error('poisoned by 6') });
    expect(runner.calls).toEqual([requests, [1, 2, 3, 4], [5, 6, 7, 8], [5, 6], [5], [6], [7, 8]]);
  });

  it('rejects every request of a batch whose runner answers the wrong number of results, after retrying each', async () => {
    const coalescer = createCoalescer(async () => [] as number[], { maxBatch: 10, maxInFlight: 1 });
    const settled = await Promise.allSettled([coalescer.request(1), coalescer.request(2)]);
    expect(settled.every((r) => r.status === 'rejected')).toBe(true);
  });
});
