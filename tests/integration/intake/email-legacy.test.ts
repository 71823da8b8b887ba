import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { CHANNEL_ENV, count, identitiesOfTicket, onlyTicket, postEmail, query, webhookResult } from '../../helpers/webhooks.js';

/** Defect 16 end to end: legacy mail through POST /webhooks/email, stored as the customer wrote it. */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV } });
});
afterAll(async () => ctx?.close());

const bytes = (...chunks: (string | Buffer)[]) => Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'latin1') : c)));

describe('legacy e-mail', () => {
  it('stores a GB2312 mail with no declared charset as Chinese text, not U+FFFD', async () => {
    const subject = '投诉：订单三个星期没有送到';
    const body = '您好，我在贵公司网站上订购的电水壶已经三个星期没有送到了。客服电话一直没有人接，请尽快处理。';
    const raw = bytes('From: ', iconv.encode('张伟', 'gb2312'), ` <zhang.${unique()}@example.cn>\r\nSubject: `, iconv.encode(subject, 'gb2312'), `\r\nMessage-ID: <${unique('gb')}@example.cn>\r\nContent-Type: text/plain\r\n\r\n`, iconv.encode(body, 'gb2312'));
    const ticket = onlyTicket(webhookResult(await postEmail(ctx, raw), { created: 1 }));
    const [row] = await query<{ subject: string; body_text: string; name: string }>(
      ctx,
      'select t.subject, m.body_text, c.name from tickets t join messages m on m.ticket_id = t.id join customers c on c.id = t.customer_id where t.id = $1',
      [ticket.ticketId],
    );
    expect(row).toMatchObject({ subject, name: '张伟' });
    expect(row!.body_text.trim()).toBe(body);
  });

  it('stores Shift_JIS labelled ISO-2022-JP as Japanese text', async () => {
    const body = '先週注文した商品がまだ届きません。';
    const raw = bytes(`From: yamada.${unique()}@example.jp\r\nSubject: =?ISO-2022-JP?B?`, iconv.encode('配送の苦情', 'cp932').toString('base64'), '?=\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 8bit\r\n\r\n', iconv.encode(body, 'cp932'));
    const ticket = onlyTicket(webhookResult(await postEmail(ctx, raw), { created: 1 }));
    const [row] = await query<{ subject: string; body_text: string }>(ctx, 'select t.subject, m.body_text from tickets t join messages m on m.ticket_id = t.id where t.id = $1', [ticket.ticketId]);
    expect(row).toMatchObject({ subject: '配送の苦情' });
    expect(row!.body_text.trim()).toBe(body);
  });

  // Taken in, but as a claim: the address is a suggested identity of a new customer, not a
  // verified one (issue 11 review; this test used to expect the address verified).
  it('takes a second From when the first is garbage, and a Reply-To when there is no From address, as suggested identities', async () => {
    const status = (address: string) => query<{ status: string }>(ctx, 'select status from customer_identities where address = $1', [address]);
    const second = `second.${unique()}@example.com`;
    const a = onlyTicket(webhookResult(await postEmail(ctx, `From: =?garbage\r\nFrom: ${second}\r\nSubject: s\r\n\r\nhello\r\n`), { created: 1 }));
    expect((await identitiesOfTicket(ctx, a.ticketId)).identities).toEqual([`email:${second}`]);
    expect(await status(second)).toEqual([{ status: 'suggested' }]);
    const replyTo = `replyto.${unique()}@example.com`;
    const b = onlyTicket(webhookResult(await postEmail(ctx, `From: Outlook Express\r\nReply-To: ${replyTo}\r\nSubject: s\r\n\r\nhello\r\n`), { created: 1 }));
    expect((await identitiesOfTicket(ctx, b.ticketId)).identities).toEqual([`email:${replyTo}`]);
    expect(await status(replyTo)).toEqual([{ status: 'suggested' }]);
  });

  it('refuses, and dead-letters, a From with a space in its local part rather than shortening it to a stranger', async () => {
    const stranger = `smith.${unique()}@example.com`;
    const res = await postEmail(ctx, `From: john ${stranger}\r\nSubject: s\r\n\r\nhello\r\n`);
    expectProblem(res, 400, { code: 'invalid-payload', field: 'from' });
    expect(await count(ctx, 'customer_identities where address = $1', [stranger])).toBe(0);
    expect(await count(ctx, "dead_letters where field = 'from' and encode(body, 'escape') like $1", [`%${stranger}%`])).toBe(1);
  });
});
