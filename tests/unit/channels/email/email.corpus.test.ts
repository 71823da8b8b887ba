import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../../../../src/channels/channel.errors.js';
import type { AutomatedKind } from '../../../../src/channels/channel.types.js';
import { parseEmail } from '../../../../src/channels/email/email.parser.js';
import { allFixtures, fixture, RECEIVED_AT } from './fixtures.js';

/** Every file in the corpus that is machine-generated; everything else must come out unflagged. */
const AUTOMATED: Record<string, AutomatedKind> = {
  'chatwoot/auto_reply.eml': 'auto_reply',
  'chatwoot/auto_reply_with_auto_submitted.eml': 'auto_reply',
  'chatwoot/non_utf_encoded_mail.eml': 'auto_reply',
  'seeded/he-auto-reply.eml': 'auto_reply',
  'chatwoot/bounced_gmail.eml': 'bounce',
  'chatwoot/bounced_with_no_from.eml': 'bounce',
  'mailparser/delivery-status.eml': 'bounce',
  'seeded/pl-bounce-dsn.eml': 'bounce',
};

/** Headerless apart from Content-Type: there is nobody to attribute or answer it to. */
const UNUSABLE = new Set(['mailparser/mixed.eml']);

const files = allFixtures();

describe('parseEmail over the whole corpus', () => {
  it('sees all 54 corpus files', () => {
    expect(files).toHaveLength(54);
  });

  it.each(files.filter((f) => !UNUSABLE.has(f)))('%s parses to a sane NormalizedInbound', async (file) => {
    const msg = await parseEmail(fixture(file), { receivedAt: RECEIVED_AT });

    expect(msg.channel).toBe('email');
    expect(msg.kind).toBe('message');
    expect(msg.providerMessageId).toMatch(/^<[^<>\s]+>$/);
    if (msg.messageIdHeader !== undefined) expect(msg.providerMessageId).toBe(msg.messageIdHeader);
    expect(msg.sender.kind).toBe('email');
    expect(msg.sender.address).toMatch(/^[^\s@A-Z]+@[^\s@A-Z]+$/);
    expect(msg.automated).toBe(AUTOMATED[file]);
    expect(msg.language).toBeUndefined();

    expect(typeof msg.text).toBe('string');
    expect(msg.text.length > 0 || msg.attachments.length > 0).toBe(true);
    expect(`${msg.subject ?? ''}${msg.text}`).not.toContain('\uFFFD');
    expect(Number.isNaN(msg.sentAt.getTime())).toBe(false);

    for (const a of msg.attachments) {
      expect(a.contentType).toMatch(/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i);
      expect(a.content).toBeInstanceOf(Buffer);
      expect(a.size).toBe(a.content?.length);
      expect(a.checksum).toMatch(/^[0-9a-f]{64}$/);
    }

    const refs = msg.thread.referencedMessageIds ?? [];
    expect(new Set(refs).size).toBe(refs.length);
    for (const id of refs) expect(id).toMatch(/^<[^<>\s]+>$/);
    for (const other of msg.otherIdentities ?? []) expect(other.address).not.toBe(msg.sender.address);
  });

  it('rejects mailparser/mixed.eml, which has no From at all, naming the field', async () => {
    const parsing = parseEmail(fixture('mailparser/mixed.eml'), { receivedAt: RECEIVED_AT });
    await expect(parsing).rejects.toBeInstanceOf(InvalidPayloadError);
    await expect(parsing).rejects.toMatchObject({ field: 'from' });
  });
});
