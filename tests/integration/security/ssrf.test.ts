import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotificationSender } from '../../../src/modules/notifications/notification.sender.js';
import { client, expectProblem } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { createPolicy, startWebhookReceiver, until } from '../../helpers/sla.js';

// Escalation webhooks pass one SSRF guard, when a policy is saved and again when the worker
// connects (issue 11, defect 7). This install allows http (local receivers speak it) but not
// private addresses, so the receiver on 127.0.0.1 stands for the internal network.
let ctx: TestContext;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
beforeAll(async () => {
  ctx = await createTestContext({ env: { OUTBOUND_ALLOW_HTTP: 'true' } });
  receiver = await startWebhookReceiver();
  await ctx.startWorkers();
});
afterAll(async () => {
  await ctx?.close();
  await receiver?.close();
});

const put = (url: string, payload: object) => ctx.app.inject({ method: 'PUT', url, headers: { authorization: `Bearer ${ctx.adminToken}` }, payload });
const FIELD = 'body.escalation.0.actions.0.target.url';
const withWebhook = (url: string) => ({
  name: `policy ${Math.random()}`,
  position: 0,
  match: {},
  targets: { firstResponse: 60 },
  escalation: [{ afterSec: 0, actions: [{ type: 'notify', target: { kind: 'webhook', url } }] }],
});

describe('saving a policy', () => {
  const internal = [
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://0.0.0.0:6379/',
    'http://127.0.0.1:6379/',
    'http://0x7f.1/',
    'http://2130706433/',
    'http://[::1]/',
    'http://10.1.2.3/hook',
    'http://192.168.0.10/hook',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
    'http://[64:ff9b::a9fe:a9fe]/',
    'http://localhost:6379/',
    'https://user:password@93.184.215.14/hook',
  ];

  it.each(internal)('refuses %s with a 400 naming the field', async (url) => {
    expectProblem(await client(ctx).post('/v1/sla/policies', withWebhook(url)), 400, { field: FIELD });
  });

  it('refuses the same on update, and a later level is named by its own index', async () => {
    const policy = await createPolicy(ctx, withWebhook('https://93.184.215.14/hook'));
    expectProblem(await put(`/v1/sla/policies/${policy.id}`, withWebhook(`${receiver.url}/hook`)), 400, { field: FIELD });
    const twoLevels = {
      ...withWebhook('https://93.184.215.14/hook'),
      escalation: [
        { afterSec: 0, actions: [{ type: 'priority', raise: true }] },
        { afterSec: 60, actions: [{ type: 'priority', raise: true }, { type: 'notify', target: { kind: 'webhook', url: 'http://169.254.169.254/' } }] },
      ],
    };
    expectProblem(await put(`/v1/sla/policies/${policy.id}`, twoLevels), 400, { field: 'body.escalation.1.actions.1.target.url' });
  });

  it('accepts a public address', async () => {
    expect((await client(ctx).post('/v1/sla/policies', withWebhook('https://93.184.215.14/hook'))).statusCode).toBe(201);
  });
});

describe('sending', () => {
  it('the worker refuses an internal URL that reached the queue (saved before the guard, or by a name that resolves inside)', async () => {
    const { port } = new URL(receiver.url);
    const urls = [`${receiver.url}/direct`, `http://localhost:${port}/by-name`, `http://[::ffff:127.0.0.1]:${port}/mapped`];
    const jobs = await Promise.all(
      urls.map((url) => ctx.deps.queues.notifications.queue.add('webhook', { url, event: 'sla.escalation', payload: { secretish: true } }, { attempts: 3 })),
    );
    for (const job of jobs) {
      const failed = await until(async () => ((await job.getState()) === 'failed' ? await ctx.deps.queues.notifications.queue.getJob(job.id!) : undefined), { what: `job ${job.id} to fail` });
      // Refused for good (no retries), naming only the origin, never the path.
      expect(failed!.attemptsMade).toBe(1);
      expect(failed!.failedReason).toMatch(/refused/);
      expect(failed!.failedReason).not.toMatch(/direct|by-name|mapped/);
    }
    expect(receiver.requests).toHaveLength(0);
  });

  it('checks the address at connect time: a name that resolves inside is refused even after the URL passed', async () => {
    const sender = createNotificationSender({ webhookSecret: undefined, smtpUrl: undefined, emailFrom: 'x', logger: pino({ level: 'silent' }), outbound: { allowPrivate: false, allowHttp: true } });
    const { port } = new URL(receiver.url);
    await expect(sender.webhook({ url: `http://localhost:${port}/rebound`, event: 'e', payload: {} })).rejects.toThrow(/refused/);
    expect(receiver.requests).toHaveLength(0);
  });

  it('with OUTBOUND_ALLOW_PRIVATE the receiver is reached, and a redirect is not followed', async () => {
    const sender = createNotificationSender({ webhookSecret: undefined, smtpUrl: undefined, emailFrom: 'x', logger: pino({ level: 'silent' }), outbound: { allowPrivate: true, allowHttp: true } });
    await sender.webhook({ url: `${receiver.url}/allowed`, event: 'e', payload: {} });
    expect(receiver.requests.map((r) => r.url)).toEqual(['/allowed']);

    const redirector = createServer((_req, res) => res.writeHead(307, { location: `${receiver.url}/redirected` }).end());
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = redirector.address() as AddressInfo;
      await expect(sender.webhook({ url: `http://127.0.0.1:${port}/hop`, event: 'e', payload: {} })).rejects.toThrow(/answered 307/);
      expect(receiver.requests.map((r) => r.url)).toEqual(['/allowed']);
    } finally {
      redirector.closeAllConnections();
      await new Promise((resolve) => redirector.close(resolve));
    }
  });
});
