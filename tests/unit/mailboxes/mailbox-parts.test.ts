import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { recipientAccepted } from '../../../src/channels/email/smtp-listener.recipients.js';
import { reconnectDelay } from '../../../src/domain/mail/backoff.js';
import { isLegacySeal, mailboxKey, openSecret, sealSecret, SecretUnreadableError } from '../../../src/modules/mailboxes/mailbox.secrets.js';

describe('mailbox secrets', () => {
  const key = mailboxKey('a passphrase of more than sixteen characters');

  it('seals and opens a secret for its own mailbox only', () => {
    const sealed = sealSecret(key, 'mailbox-1', 'imap.example.com', { kind: 'password', password: 'hunter2-long' });
    expect(sealed).not.toContain('hunter2');
    expect(openSecret(key, 'mailbox-1', 'imap.example.com', sealed)).toEqual({ kind: 'password', password: 'hunter2-long' });
    expect(() => openSecret(key, 'mailbox-2', 'imap.example.com', sealed)).toThrow(SecretUnreadableError);
    expect(() => openSecret(mailboxKey('another passphrase, also long'), 'mailbox-1', 'imap.example.com', sealed)).toThrow(SecretUnreadableError);
    // A fresh nonce each time.
    expect(sealSecret(key, 'mailbox-1', 'h', { kind: 'password', password: 'x' })).not.toBe(sealSecret(key, 'mailbox-1', 'h', { kind: 'password', password: 'x' }));
  });

  it('binds the host: a row pointed at another server cannot decrypt its credential', () => {
    const sealed = sealSecret(key, 'mailbox-1', 'imap.example.com', { kind: 'password', password: 'hunter2-long' });
    expect(() => openSecret(key, 'mailbox-1', 'imap.attacker.example', sealed)).toThrow(SecretUnreadableError);
    expect(openSecret(key, 'mailbox-1', 'IMAP.example.com', sealed)).toEqual({ kind: 'password', password: 'hunter2-long' });
    expect(isLegacySeal(sealed)).toBe(false);
  });

  it('still opens secrets sealed before the host binding (v1: the id alone)', () => {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from('mailbox-1', 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify({ kind: 'password', password: 'old' }), 'utf8'), cipher.final()]);
    const legacy = ['v1', nonce.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
    expect(isLegacySeal(legacy)).toBe(true);
    expect(openSecret(key, 'mailbox-1', 'any.host', legacy)).toEqual({ kind: 'password', password: 'old' });
    expect(() => openSecret(key, 'mailbox-2', 'any.host', legacy)).toThrow(SecretUnreadableError);
  });

  it('takes 64 hex digits or base64 of 32 bytes as the key itself', () => {
    expect(mailboxKey('00'.repeat(32))).toEqual(Buffer.alloc(32));
    expect(mailboxKey(Buffer.alloc(32, 1).toString('base64'))).toEqual(Buffer.alloc(32, 1));
  });
});

describe('reconnectDelay', () => {
  it('grows exponentially with jitter, within its bounds', () => {
    expect(reconnectDelay(1, 1000, 300_000, () => 0)).toBe(1000);
    expect(reconnectDelay(4, 1000, 300_000, () => 1)).toBe(8000);
    expect(reconnectDelay(4, 1000, 300_000, () => 0)).toBe(4000);
    expect(reconnectDelay(50, 1000, 300_000, () => 1)).toBe(300_000);
    for (let n = 1; n < 40; n++) {
      const d = reconnectDelay(n, 100, 5000);
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(5000);
    }
  });
});

describe('recipientAccepted', () => {
  const accepted = ['desk.example', 'support@other.example', '@third.example'];
  it('accepts listed domains and addresses, case-insensitively, and nothing else', () => {
    expect(recipientAccepted('Anyone@Desk.Example', accepted)).toBe(true);
    expect(recipientAccepted('support@other.example', accepted)).toBe(true);
    expect(recipientAccepted('sales@other.example', accepted)).toBe(false);
    expect(recipientAccepted('x@third.example', accepted)).toBe(true);
    expect(recipientAccepted('x@sub.desk.example', accepted)).toBe(false);
    expect(recipientAccepted('not-an-address', accepted)).toBe(false);
    expect(recipientAccepted('x@desk.example', [])).toBe(false);
  });
});
