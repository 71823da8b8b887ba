import { describe, expect, it } from 'vitest';
import { blockKeysFor, normalizeBlockValue } from '../../../src/modules/blocklist/blocklist.models.js';

describe('normalizeBlockValue', () => {
  it('stores values the way intake stores senders', () => {
    expect(normalizeBlockValue('email', ' Spam@Example.COM ', 'IL')).toEqual({ value: 'spam@example.com' });
    expect(normalizeBlockValue('domain', '@Mail.Example.com.', 'IL')).toEqual({ value: 'mail.example.com' });
    expect(normalizeBlockValue('phone', '050-123-4567', 'IL')).toEqual({ value: '+972501234567' });
    expect(normalizeBlockValue('facebook', '105320418834911:7066489083426785', 'IL')).toEqual({ value: '105320418834911:7066489083426785' });
    expect(normalizeBlockValue('twitter', '1205290247124217856', 'IL')).toEqual({ value: '1205290247124217856' });
  });

  it('explains what is wrong with a value that is not of its kind', () => {
    for (const [kind, value] of [['email', 'nope'], ['domain', 'com'], ['domain', 'a..b'], ['phone', '4471'], ['facebook', '7066489083426785'], ['twitter', '@someone']] as const) {
      expect(normalizeBlockValue(kind, value, 'IL'), `${kind} ${value}`).toHaveProperty('error');
    }
  });
});

describe('blockKeysFor', () => {
  it('matches an e-mail sender by address, by its domain and by each parent domain of two labels or more', () => {
    expect(blockKeysFor({ kind: 'email', address: 'a@eu.mail.example.com' })).toEqual([
      { kind: 'email', value: 'a@eu.mail.example.com' },
      { kind: 'domain', value: 'eu.mail.example.com' },
      { kind: 'domain', value: 'mail.example.com' },
      { kind: 'domain', value: 'example.com' },
    ]);
  });

  it('matches other senders by their identity only', () => {
    expect(blockKeysFor({ kind: 'phone', address: '+972501234567' })).toEqual([{ kind: 'phone', value: '+972501234567' }]);
    expect(blockKeysFor({ kind: 'twitter', address: '42' })).toEqual([{ kind: 'twitter', value: '42' }]);
  });
});

describe('spellings of one domain (issue 11 review)', () => {
  it('stores a domain without its trailing dot, NFC-normalized, in IDNA ASCII form', () => {
    expect(normalizeBlockValue('domain', 'blocked.example.', 'IL')).toEqual({ value: 'blocked.example' });
    expect(normalizeBlockValue('domain', 'bücher.example', 'IL')).toEqual({ value: 'xn--bcher-kva.example' });
    expect(normalizeBlockValue('domain', 'bu\u0308cher.example', 'IL')).toEqual({ value: 'xn--bcher-kva.example' });
    expect(normalizeBlockValue('domain', 'XN--BCHER-KVA.example', 'IL')).toEqual({ value: 'xn--bcher-kva.example' });
    expect(normalizeBlockValue('email', 'Spam@Blocked.Example.', 'IL')).toEqual({ value: 'spam@blocked.example' });
    expect(normalizeBlockValue('email', 'info@bücher.example', 'IL')).toEqual({ value: 'info@xn--bcher-kva.example' });
  });

  it('matches a sender whatever the spelling of its domain: trailing dot, Unicode (as mailparser decodes punycode), NFD', () => {
    const domains = (address: string) => blockKeysFor({ kind: 'email', address }).filter((k) => k.kind === 'domain').map((k) => k.value);
    expect(domains('spam@blocked.example.')).toEqual(['blocked.example']);
    expect(blockKeysFor({ kind: 'email', address: 'spam@blocked.example.' })[0]).toEqual({ kind: 'email', value: 'spam@blocked.example' });
    expect(domains('x@bücher.example')).toContain('xn--bcher-kva.example');
    expect(domains('x@bu\u0308cher.example')).toContain('xn--bcher-kva.example');
    // Entries stored in Unicode form before domains were kept in ASCII still match.
    expect(domains('x@xn--bcher-kva.example')).toContain('bücher.example');
  });

  it('matches plus-addressing: an entry for user@d blocks user+tag@d, not the other way round', () => {
    const emails = (address: string) => blockKeysFor({ kind: 'email', address }).filter((k) => k.kind === 'email').map((k) => k.value);
    expect(emails('user+promo@example.com')).toEqual(['user+promo@example.com', 'user@example.com']);
    expect(emails('user@example.com')).toEqual(['user@example.com']);
    expect(emails('+tag@example.com')).toEqual(['+tag@example.com']);
  });
});

describe('anonymous callers', () => {
  it('a phone entry "anonymous" is accepted and matches every caller without a usable number', () => {
    expect(normalizeBlockValue('phone', ' Anonymous ', 'IL')).toEqual({ value: 'anonymous' });
    expect(blockKeysFor({ kind: 'phone', address: 'anonymous:CA123' })).toEqual([
      { kind: 'phone', value: 'anonymous:CA123' },
      { kind: 'phone', value: 'anonymous' },
    ]);
    expect(blockKeysFor({ kind: 'phone', address: '+972501234567' })).toEqual([{ kind: 'phone', value: '+972501234567' }]);
  });
});
