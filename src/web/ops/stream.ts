
export type LinkState = 'connecting' | 'live' | 'reconnecting';

export interface StreamMessage {
  type: string;
  id: number;
  data: Record<string, unknown>;
}

/** The event names the wall listens to (EventSource only delivers named events to named listeners). */
export const STREAM_EVENTS = [
  'warning',
  'breach',
  'escalation',
  'acknowledged',
  'resolved',
  'alarm_raised',
  'alarm_cleared',
  'agent_assigned',
  'agent_unassigned',
] as const;

const MAX_BACKOFF_MS = 15_000;

/**
 * The live link: an EventSource on the operations stream. EventSource reconnects by itself
 * with Last-Event-ID after a network drop or the server's shutdown event; when the server
 * answers with an error instead (a 503 while it starts, a 401 when the session expired),
 * EventSource gives up, and this class opens a new one after a backoff, resuming from the last
 * id it saw (?lastEventId=, since a new EventSource cannot send the header). Every time the
 * link is (re)established, `onOpen` lets the page catch up on what its lists missed.
 */
export class LiveStream {
  #source: EventSource | null = null;
  #lastEventId: number | null = null;
  #retry: number | undefined;
  #failures = 0;
  #closed = false;

  constructor(
    private readonly url: string,
    private readonly handlers: {
      onMessage(message: StreamMessage): void;
      onState(state: LinkState, since: Date | null): void;
      /** Connected (first time or again): reload the snapshots. */
      onOpen(reconnected: boolean): void;
      /** The stream failed for good: the page checks whether the session is still valid. */
      onFailure(): void;
    },
  ) {}

  start(): void {
    this.#connect(false);
  }

  close(): void {
    this.#closed = true;
    window.clearTimeout(this.#retry);
    this.#source?.close();
  }

  #connect(reconnecting: boolean): void {
    if (this.#closed) return;
    const url = this.#lastEventId === null ? this.url : `${this.url}${this.url.includes('?') ? '&' : '?'}lastEventId=${this.#lastEventId}`;
    const source = new EventSource(url);
    this.#source = source;
    let downSince: Date | null = reconnecting ? new Date() : null;
    let everOpened = false;
    this.handlers.onState(reconnecting ? 'reconnecting' : 'connecting', downSince);
    source.addEventListener('open', () => {
      this.#failures = 0;
      const again = reconnecting || everOpened;
      everOpened = true;
      downSince = null;
      this.handlers.onState('live', null);
      this.handlers.onOpen(again);
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CONNECTING) {
        // EventSource retries by itself (network drop, server restart).
        downSince ??= new Date();
        this.handlers.onState('reconnecting', downSince);
        return;
      }
      // CLOSED: the server refused the stream; open a new one after a backoff.
      source.close();
      this.#failures++;
      this.handlers.onState('reconnecting', downSince ?? new Date());
      this.handlers.onFailure();
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.#failures, 5)) * (0.75 + Math.random() / 2);
      this.#retry = window.setTimeout(() => this.#connect(true), delay);
    });
    for (const type of STREAM_EVENTS) {
      source.addEventListener(type, (event) => {
        const message = event as MessageEvent<string>;
        const id = Number(message.lastEventId);
        // The stream delivers in commit order, not id order: the position to resume from is the
        // last event received (as EventSource's own Last-Event-ID), not the highest id seen.
        if (Number.isSafeInteger(id)) this.#lastEventId = id;
        let data: Record<string, unknown> = {};
        try {
          data = JSON.parse(message.data) as Record<string, unknown>;
        } catch {
          // A malformed event changes nothing; the next refresh catches up.
        }
        this.handlers.onMessage({ type, id, data });
      });
    }
    // The server's "shutdown" event precedes a restart: say so before the connection drops.
    source.addEventListener('shutdown', () => this.handlers.onState('reconnecting', new Date()));
  }
}
