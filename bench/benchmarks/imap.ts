import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { parseEmail } from '../../src/channels/email/email.parser.js';
import { startDnsStub } from '../../tests/helpers/dns-stub.js';
import { startDovecot } from '../../tests/helpers/dovecot.js';
import type { Benchmark } from '../lib/bench.js';
import { runConcurrent } from '../lib/load.js';
import { measured, type Row } from '../lib/report.js';

/** Concurrent raw-MIME webhooks on the baseline side; the IMAP fetcher is one session taking chunks. */
const WEBHOOK_CONCURRENCY = 8;
/** IMAP sessions appending the backlog to Dovecot (delivery is setup, not measured). */
const APPEND_SESSIONS = 8;
const SECRET_KEY = 'bench-mailbox-secret-key-0123456789';
const FIXTURES = new URL('../../tests/fixtures/email/', import.meta.url).pathname;

/**
 * Real-world shapes: the recorded e-mails of tests/fixtures/email (copies of shared/corpus/email:
 * multipart, HTML only, legacy charsets, attachments, inline images) that intake takes as a
 * customer's message (auto-replies and bounces open no ticket, so they would not count). Each
 * copy gets its own From and Message-ID; threading headers go, so every copy is a message of its own.
 */
async function loadShapes(): Promise<string[]> {
  const shapes: string[] = [];
  for (const dir of await readdir(FIXTURES, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const file of (await readdir(join(FIXTURES, dir.name))).filter((f) => f.endsWith('.eml')).sort()) {
      const text = (await readFile(join(FIXTURES, dir.name, file), 'latin1')).replace(/\r?\n/g, '\r\n');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) continue;
      // Header fields with their folded continuation lines; the ones a copy replaces are dropped.
      const fields = text.slice(0, split).split(/\r\n(?![ \t])/);
      const kept = fields.filter((f) => !/^(from|sender|reply-to|message-id|in-reply-to|references|return-path|auto-submitted|x-autoreply|precedence)\s*:/i.test(f));
      const shape = `${kept.join('\r\n')}\r\n\r\n${text.slice(split + 4)}`;
      const sample = await parseEmail(Buffer.from(render(shape, 0, 'probe'), 'latin1'), { receivedAt: new Date() }).catch(() => null);
      if (sample && !sample.automated) shapes.push(shape);
    }
  }
  if (shapes.length === 0) throw new Error(`no usable e-mail shapes under ${FIXTURES}`);
  return shapes;
}

function render(shape: string, i: number, tag: string): string {
  return `From: Customer ${i} <c${i}@${tag}.example>\r\nMessage-ID: <m${i}@${tag}.example>\r\n${shape}`;
}

async function counts(pool: pg.Pool, tag: string): Promise<{ rows: number; distinct: number }> {
  const { rows } = await pool.query<{ rows: number; distinct: number }>(
    `select count(*)::int as rows, count(distinct provider_message_id)::int as distinct from messages where provider_message_id like $1`,
    [`%@${tag}.example>`],
  );
  return rows[0]!;
}

async function api(url: string, key: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`POST ${path} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

/**
 * IMAP backlog ingest (issue 19): a folder of `size` messages in a real Dovecot, taken in by the
 * service's mailbox fetcher (one session; chunks of 100 fetched in one FETCH, parsed and
 * authenticated concurrently, committed many to a transaction with the progress, flagged \Seen
 * in one STORE per chunk), beside the same number of raw-MIME webhooks (POST /webhooks/email) into the same
 * service. Sender authentication runs on both, against a local DNS stub. Counted: messages lost
 * (delivered, never stored) and duplicated (stored twice).
 */
export const imap: Benchmark = {
  name: 'imap',
  description: 'IMAP backlog ingest from a real Dovecot (one fetcher, chunked) beside raw-MIME webhook ingest (8 concurrent) into the same service',
  sizeUnit: 'messages',
  sizes: { quick: 1_000, full: 10_000 },

  async run(context): Promise<Row[]> {
    const name = 'imap';
    const shapes = await loadShapes();
    const complaint = (i: number, tag: string) => Buffer.from(render(shapes[i % shapes.length]!, i, tag), 'latin1');
    const dovecot = await startDovecot({ users: ['bench'] });
    const dns = await startDnsStub();
    const database = await context.env.createDatabase('imap_product');
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    pool.on('error', () => undefined);
    const service = await context.startService({
      label: 'imap',
      databaseUrl: database.url,
      env: {
        MAILBOX_SECRET_KEY: SECRET_KEY,
        MAILBOX_SCAN_INTERVAL_MS: '200',
        // Dovecot listens on loopback: the mailbox SSRF guard refuses it otherwise.
        OUTBOUND_ALLOW_PRIVATE: 'true',
        SENDER_AUTHENTICATION: 'true',
        DNS_SERVERS: dns.address,
        DNS_TIMEOUT_MS: '500',
        INTAKE_FLOOD_MAX_PER_HOUR: '0',
      },
    });
    try {
      // The folder fills before the mailbox exists: a backlog, not a trickle.
      context.log(`delivering ${context.size} messages (${shapes.length} shapes from tests/fixtures/email) to dovecot over ${APPEND_SESSIONS} sessions`);
      const tag = 'imapbench';
      let next = 0;
      await Promise.all(
        Array.from({ length: APPEND_SESSIONS }, async () => {
          const c = await dovecot.client('bench');
          try {
            for (let i = next++; i < context.size; i = next++) {
              await c.append('INBOX', complaint(i, tag));
              if (i % 2000 === 1999) context.log(`delivered ${i + 1}`);
            }
          } finally {
            await c.logout();
          }
        }),
      );

      // Baseline: the same number of messages as raw-MIME webhooks.
      const integration = (await api(service.url, context.adminApiKey, '/v1/api-keys', { name: 'bench mail relay', role: 'integration' })).token as string;
      context.log(`baseline: ${context.size} raw-MIME webhooks, ${WEBHOOK_CONCURRENCY} concurrent`);
      const webhooks = await runConcurrent({
        total: context.size,
        concurrency: WEBHOOK_CONCURRENCY,
        // A rate: on the shared 2-core machine 10,000 webhooks take longer than the run can spare.
        maxSeconds: context.mode === 'quick' ? 120 : 300,
        signal: context.signal,
        onProgress: (done) => context.log(`baseline: ${done}/${context.size}`),
        task: async (i) => {
          const response = await fetch(`${service.url}/webhooks/email`, {
            method: 'POST',
            headers: { authorization: `Bearer ${integration}`, 'content-type': 'message/rfc822' },
            body: complaint(i, 'hookbench'),
          });
          await response.arrayBuffer();
          if (!response.ok) throw new Error(`webhook answered ${response.status}`);
        },
      });
      const hooked = await counts(pool, 'hookbench');
      context.log(`baseline: ${webhooks.perSec.toFixed(0)} msg/s`);

      context.log('product: connecting the mailbox');
      const started = performance.now();
      await api(service.url, context.adminApiKey, '/v1/mailboxes', {
        name: 'bench',
        host: dovecot.host,
        port: dovecot.port,
        tls: 'none',
        username: 'bench',
        auth: { kind: 'password', password: dovecot.password },
      });
      const deadline = started + (context.mode === 'quick' ? 300_000 : 2_700_000);
      let fetched = await counts(pool, tag);
      let lastLog = performance.now();
      while (fetched.distinct < context.size && performance.now() < deadline && !context.signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        fetched = await counts(pool, tag);
        if (performance.now() - lastLog > 5_000) {
          context.log(`product: ${fetched.distinct}/${context.size} (RSS ${service.rssMb().toFixed(0)} MB)`);
          lastLog = performance.now();
        }
      }
      const elapsedSec = (performance.now() - started) / 1000;
      const truncated = fetched.distinct < context.size;
      // Lost means passed by the progress (UIDs 1..lastUid, appended in order) but not stored;
      // messages the fetcher had not reached when the run was cut short are only "not reached".
      const { rows: progressRows } = await pool.query<{ last_uid: number }>(`select last_uid::int from mailboxes where name = 'bench'`);
      const lastUid = progressRows[0]?.last_uid ?? 0;
      const imapPerSec = fetched.distinct / elapsedSec;
      context.log(`product: ${fetched.distinct} messages in ${elapsedSec.toFixed(1)} s, ${imapPerSec.toFixed(0)} msg/s`);
      // Every message flagged \Seen on the server once taken in.
      const check = await dovecot.client('bench');
      let unseen = -1;
      try {
        // The chunk's STORE follows its commit: the last one may still be on its way (bounded wait).
        const flagDeadline = performance.now() + 30_000;
        for (;;) {
          const status = await check.status('INBOX', { unseen: true });
          // Those not reached yet are unseen by design; the rest must be flagged.
          unseen = status ? (status.unseen ?? -1) - (context.size - lastUid) : -1;
          if (unseen <= 0 || performance.now() > flagDeadline) break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      } finally {
        await check.logout();
      }
      const memory = await service.stop();
      context.details.product = { fetched, lastUid, elapsedSec, unseen, memory };
      context.details.baseline = { ...webhooks, counts: hooked };
      const problems = truncated ? [`stopped after ${elapsedSec.toFixed(0)} s with ${fetched.distinct} of ${context.size}`] : [];
      return [
        measured({ benchmark: name, metric: 'backlog ingest', unit: 'msg/s', product: imapPerSec, baseline: webhooks.perSec, problems, note: `product: one IMAP fetcher over a ${context.size}-message folder; baseline: raw-MIME webhooks, ${WEBHOOK_CONCURRENCY} concurrent` }),
        measured({ benchmark: name, metric: 'messages lost', product: Math.max(0, lastUid - fetched.distinct), baseline: webhooks.completed - hooked.distinct, target: { kind: 'equals', value: 0 } }),
        measured({ benchmark: name, metric: 'not reached in the time bound', product: context.size - lastUid, baseline: context.size - webhooks.completed, target: { kind: 'equals', value: 0 } }),
        measured({ benchmark: name, metric: 'messages duplicated', product: fetched.rows - fetched.distinct, baseline: hooked.rows - hooked.distinct, target: { kind: 'equals', value: 0 } }),
        measured({ benchmark: name, metric: 'left unflagged on the server', product: unseen, target: { kind: 'equals', value: 0 } }),
        measured({ benchmark: 'memory', metric: 'service peak RSS, IMAP backlog', unit: 'MB', product: memory.peakRssMb, baseline: memory.idleRssMb, target: { kind: 'below', value: 300, unit: 'MB' } }),
      ];
    } finally {
      await service.stop().catch(() => undefined);
      await pool.end();
      await dovecot.stop();
      await dns.close();
    }
  },
};
