import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
  /** The service's clock when it arrived (a manual clock in tests). */
  clockAt: Date;
  /** What the receiver answered: a status, or 'hang' (no answer at all). */
  answered: number | 'hang';
}

export type Behaviour = (body: string, attempt: number) => number | 'hang';

/**
 * A local webhook receiver. `behave` decides each answer (a status or a hang), by body and by
 * how many times that webhook-id came before; every request is recorded.
 */
export async function startReceiver(behave: Behaviour = () => 200, clock: () => Date = () => new Date()) {
  const deliveries: Delivery[] = [];
  const seen = new Map<string, number>();
  const hanging = new Set<ServerResponse>();
  let behaviour = behave;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id']);
      const attempt = (seen.get(id) ?? 0) + 1;
      seen.set(id, attempt);
      const answer = behaviour(body, attempt);
      deliveries.push({ headers: req.headers, body, receivedAt: Date.now(), clockAt: clock(), answered: answer });
      if (answer === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    port,
    deliveries,
    set behaviour(next: Behaviour) {
      behaviour = next;
    },
    /** Bodies answered 2xx, parsed. */
    accepted: () => deliveries.filter((d) => typeof d.answered === 'number' && d.answered < 300).map((d) => JSON.parse(d.body) as { id: string; type: string; resource: { type: string; id: string }; data: Record<string, unknown> }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Standard Webhooks verification written from the specification, independently of the
 * `standardwebhooks` package the service signs with: the key is the base64 after "whsec_";
 * the signed content is "<webhook-id>.<webhook-timestamp>.<body>"; HMAC-SHA256, base64; the
 * header lists space-separated "v1,<signature>" entries, any one of which may match.
 */
export function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string, options: { now: Date; toleranceSec?: number }): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Number(timestamp) - options.now.getTime() / 1000) > (options.toleranceSec ?? 300)) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || !signature) return false;
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
