import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { expect } from 'vitest';
import { systemClock } from '../../src/shared/clock.js';
import { client } from './api.js';
import { createTestContext, type TestContext } from './context.js';
import { until } from './sla.js';
import { CHANNEL_ENV, query } from './webhooks.js';

/**
 * Shared helpers of the delivery integration tests (issue 5): local servers standing in for
 * the providers (an SMTP server, the Graph API, the X API) that record what reaches them and
 * can be told to fail, hold or slow down; a context wired to them; and outbox read-backs.
 */

export { until };

// ---------------------------------------------------------------- fault plans

/** What a provider does with the next requests: fail some, hold them, or slow them down. */
class FaultPlan<F> {
  #queue: F[] = [];
  #always: F | null = null;
  #gate: { promise: Promise<void>; release: () => void } | null = null;
  delayMs = 0;

  /** The next `n` requests fail with `failure`; the ones after them succeed again. */
  failNext(n: number, failure: F): void {
    for (let i = 0; i < n; i++) this.#queue.push(failure);
  }

  /** Every request fails until succeed() is called. */
  failAlways(failure: F): void {
    this.#always = failure;
  }

  /** Forgets every planned failure: requests succeed from now on. */
  succeed(): void {
    this.#queue = [];
    this.#always = null;
  }

  /** Requests that arrive from now on wait (after being recorded) until release() is called. */
  hold(): void {
    if (this.#gate) return;
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.#gate = { promise, release };
  }

  release(): void {
    this.#gate?.release();
    this.#gate = null;
  }

  /** Decided when a request arrives: the failure to answer with, or null for success. */
  next(): F | null {
    return this.#queue.shift() ?? this.#always;
  }

  async wait(): Promise<void> {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.#gate) await this.#gate.promise;
  }
}

// ---------------------------------------------------------------- HTTP providers (Graph, X)

export interface ProviderRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body as JSON when it is JSON, as a form when it is form-encoded. */
  json: Record<string, unknown> | null;
  form: URLSearchParams | null;
  /** What the server answered: a 2xx means the provider accepted (and "published") it. */
  status: number;
  accepted: boolean;
}

export interface HttpFailure {
  status: number;
  body: unknown;
}

type Responder = (req: ProviderRequest, acceptedSoFar: number) => unknown;

/** Graph API success bodies: Send API and the /comments edge. */
export const graphResponder: Responder = (req, n) => {
  if (req.path.endsWith('/messages')) {
    const recipient = (req.json?.recipient as { id?: string } | undefined)?.id;
    return { recipient_id: recipient, message_id: `m_local_${n + 1}` };
  }
  if (req.path.endsWith('/comments')) return { id: `${req.path.split('/').at(-2)}_reply${n + 1}` };
  return { id: `graph_${n + 1}` };
};

/** X API v2 success bodies: a DM event and a created tweet. */
export const xResponder: Responder = (req, n) => {
  const dm = /^\/2\/dm_conversations\/with\/(\d+)\/messages$/.exec(req.path);
  if (dm) return { data: { dm_conversation_id: `${dm[1]}-2975699229`, dm_event_id: String(1_800_000_000_000_000_000n + BigInt(n + 1)) } };
  if (req.path === '/2/tweets') return { data: { id: String(1_900_000_000_000_000_000n + BigInt(n + 1)), text: req.json?.text, edit_history_tweet_ids: [] } };
  return { data: {} };
};

/** Graph's answer to a server-side failure (transient by status). */
export const GRAPH_500: HttpFailure = { status: 500, body: { error: { message: 'An unexpected error has occurred. Please retry your request later.', type: 'OAuthException', code: 2, is_transient: true } } };
/** Graph's answer to an expired page token: code 190, never worth retrying. */
export const GRAPH_TOKEN_EXPIRED: HttpFailure = { status: 400, body: { error: { message: 'Error validating access token: Session has expired', type: 'OAuthException', code: 190, error_subcode: 463, fbtrace_id: 'AbCdEf' } } };
export const X_503: HttpFailure = { status: 503, body: { title: 'Service Unavailable', detail: 'Service Unavailable', type: 'about:blank', status: 503 } };

/**
 * A provider's HTTP API on 127.0.0.1:0. Every request is recorded (with the status it got)
 * before it is answered, so "the outbox says sent" implies "the request is in `requests`".
 */
export async function startProviderApi(responder: Responder) {
  const requests: ProviderRequest[] = [];
  const faults = new FaultPlan<HttpFailure>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://local');
        const body = Buffer.concat(chunks).toString('utf8');
        const type = req.headers['content-type'] ?? '';
        let json: Record<string, unknown> | null = null;
        if (type.startsWith('application/json')) {
          try {
            json = JSON.parse(body) as Record<string, unknown>;
          } catch {
            json = null;
          }
        }
        const recorded: ProviderRequest = {
          method: req.method ?? '',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body,
          json,
          form: type.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(body) : null,
          status: 0,
          accepted: false,
        };
        const failure = faults.next();
        recorded.status = failure?.status ?? 200;
        recorded.accepted = failure === null;
        const answer = failure ? failure.body : responder(recorded, requests.filter((r) => r.accepted).length);
        requests.push(recorded);
        await faults.wait();
        res.writeHead(recorded.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    accepted: () => requests.filter((r) => r.accepted),
    close: () =>
      new Promise<void>((resolve) => {
        faults.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type ProviderApi = Awaited<ReturnType<typeof startProviderApi>>;

// ---------------------------------------------------------------- SMTP

export interface SmtpFailure {
  code: number;
  message: string;
}

export const SMTP_451: SmtpFailure = { code: 451, message: '4.3.0 Temporary local problem, try again later' };
export const SMTP_550: SmtpFailure = { code: 550, message: '5.1.1 Mailbox does not exist' };

export interface ReceivedMail {
  raw: Buffer;
  mail: ParsedMail;
  envelope: { from: string; to: string[] };
}

/**
 * An SMTP server on 127.0.0.1:0. A message is parsed and recorded before the 250 goes back,
 * so a reply the outbox calls sent is in `accepted`. Refused DATA is counted in `attempts`.
 */
export async function startSmtp() {
  const accepted: ReceivedMail[] = [];
  const attempts: { code: number }[] = [];
  const faults = new FaultPlan<SmtpFailure>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        void (async () => {
          const raw = Buffer.concat(chunks);
          const failure = faults.next();
          attempts.push({ code: failure?.code ?? 250 });
          if (failure) {
            await faults.wait();
            callback(Object.assign(new Error(failure.message), { responseCode: failure.code }));
            return;
          }
          const mail = await simpleParser(raw);
          const envelope = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
          };
          accepted.push({ raw, mail, envelope });
          await faults.wait();
          callback();
        })();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    accepted,
    attempts,
    faults,
    /** Accepted mails carrying this Message-ID (brackets included, as we store it). */
    withMessageId: (messageId: string) => accepted.filter((m) => m.mail.messageId === messageId),
    close: () =>
      new Promise<void>((resolve) => {
        faults.release();
        server.close(() => resolve());
      }),
  };
}

export type LocalSmtp = Awaited<ReturnType<typeof startSmtp>>;

// ---------------------------------------------------------------- context

export const GRAPH_TOKEN = 'EAAlocal-page-token';
export const X_TOKEN = 'x-local-user-token';

/**
 * A test context on the system clock (BullMQ's delays and the Messenger window are real time)
 * whose senders point at the given local servers, with a small backoff and 3 attempts.
 */
export async function deliveryContext(o: { smtp?: LocalSmtp; graph?: ProviderApi; x?: ProviderApi; env?: Record<string, string>; workers?: boolean } = {}): Promise<TestContext> {
  const ctx = await createTestContext({
    clock: systemClock,
    env: {
      ...CHANNEL_ENV,
      ...(o.smtp ? { SMTP_URL: o.smtp.url, EMAIL_FROM: 'Kettle Co. Support <support@desk.example>' } : {}),
      ...(o.graph ? { FACEBOOK_GRAPH_URL: `${o.graph.url}/v21.0`, FACEBOOK_PAGE_ACCESS_TOKEN: GRAPH_TOKEN } : {}),
      ...(o.x ? { TWITTER_API_URL: o.x.url, TWITTER_BEARER_TOKEN: X_TOKEN } : {}),
      EMAIL_MESSAGE_ID_DOMAIN: 'desk.example',
      DELIVERY_MAX_ATTEMPTS: '3',
      DELIVERY_BACKOFF_MS: '50',
      ...o.env,
    },
  });
  if (o.workers !== false) await ctx.startWorkers();
  return ctx;
}

// ---------------------------------------------------------------- replies and the outbox

export interface OutboxRow {
  id: string;
  message_id: string;
  ticket_id: string;
  channel: string;
  state: 'queued' | 'sent' | 'failed' | 'dead';
  attempts: number;
  generation: number;
  last_error: string | null;
  provider_message_id: string | null;
  payload: Record<string, unknown> | null;
  updated_at: Date;
}

export interface MessageRow {
  id: string;
  channel: string;
  delivery_state: string | null;
  delivery_attempts: number;
  delivery_error: string | null;
  provider_message_id: string | null;
  message_id_header: string | null;
  sent_at: Date | null;
}

/** A public reply through the API; answers the new message's id. */
export async function postReply(ctx: TestContext, ticketId: string, body: Record<string, unknown> | string): Promise<string> {
  const res = await client(ctx).post(`/v1/tickets/${ticketId}/messages`, typeof body === 'string' ? { body, public: true } : { public: true, ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ message: { id: string } }>().message.id;
}

export async function outboxOf(ctx: TestContext, messageId: string): Promise<OutboxRow> {
  const [row] = await query<OutboxRow>(ctx, 'select * from outbox where message_id = $1', [messageId]);
  if (!row) throw new Error(`no outbox row for message ${messageId}`);
  return row;
}

export async function messageRow(ctx: TestContext, messageId: string): Promise<MessageRow> {
  const [row] = await query<MessageRow>(ctx, 'select * from messages where id = $1', [messageId]);
  if (!row) throw new Error(`no message ${messageId}`);
  return row;
}

/** Waits until the reply's outbox row reaches one of `states` (a final one by default). */
export function settled(ctx: TestContext, messageId: string, states: OutboxRow['state'][] = ['sent', 'dead'], timeoutMs = 10_000): Promise<OutboxRow> {
  return until(
    async () => {
      const row = await outboxOf(ctx, messageId);
      return states.includes(row.state) ? row : undefined;
    },
    { timeoutMs, what: `outbox of message ${messageId} in ${states.join('/')}` },
  );
}

/** The delivery events of a ticket's timeline, oldest first: delivered, delivery_failed, delivery_dead. */
export async function deliveryEvents(ctx: TestContext, ticketId: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const rows = await query<{ type: string; data: Record<string, unknown> }>(
    ctx,
    "select type, data from ticket_events where ticket_id = $1 and type in ('delivered', 'delivery_failed', 'delivery_dead') order by id",
    [ticketId],
  );
  return rows;
}
