/**
 * Turns many concurrent single requests into a few batch calls. A request made while fewer
 * than `maxInFlight` batches run starts a batch on the next tick (so the requests of one tick
 * share it); requests made while every slot is busy wait and go together into the next free
 * batch, up to `maxBatch` at a time. Under light load a request runs alone, at once; under a
 * burst the batches grow, which is what makes set-based work pay off.
 *
 * A batch that fails is retried in halves, down to single requests where needed, so one
 * poisonous request fails alone instead of taking its batch-mates with it (about 2·log2(n)
 * extra runs for one bad request in n, not n).
 */
export interface CoalescerOptions {
  maxBatch: number;
  maxInFlight: number;
}

export type BatchRunner<Req, Res> = (requests: Req[]) => Promise<Res[]>;

interface Pending<Req, Res> {
  request: Req;
  resolve: (result: Res) => void;
  reject: (error: unknown) => void;
}

export function createCoalescer<Req, Res>(run: BatchRunner<Req, Res>, options: CoalescerOptions) {
  const queue: Pending<Req, Res>[] = [];
  let inFlight = 0;
  let startScheduled = false;

  async function runChecked(requests: Req[]): Promise<Res[]> {
    const results = await run(requests);
    if (results.length !== requests.length) throw new Error(`batch runner answered ${results.length} results for ${requests.length} requests`);
    return results;
  }

  /** A failed batch is split in halves, recursively: a poisonous request ends up failing alone. */
  async function runBatch(batch: Pending<Req, Res>[]): Promise<void> {
    try {
      const results = await runChecked(batch.map((p) => p.request));
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await runBatch(batch.slice(0, half));
      await runBatch(batch.slice(half));
    }
  }

  function pump(): void {
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, options.maxBatch);
      inFlight++;
      void runBatch(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  }

  function schedule(): void {
    if (startScheduled) return;
    startScheduled = true;
    setImmediate(() => {
      startScheduled = false;
      pump();
    });
  }

  return {
    request(request: Req): Promise<Res> {
      return new Promise<Res>((resolve, reject) => {
        queue.push({ request, resolve, reject });
        schedule();
      });
    },
    /** Requests waiting for a batch slot (not counting those in flight). */
    get waiting(): number {
      return queue.length;
    },
  };
}

export type Coalescer<Req, Res> = ReturnType<typeof createCoalescer<Req, Res>>;
