import fc from 'fast-check';
import { findPhoneNumbersInText } from 'libphonenumber-js';
import { describe, expect, it } from 'vitest';
import type { SenderIdentity } from '../../../src/channels/channel.types.js';
import { extractIdentitiesFromText, findEmailCandidates, looksLikeTypedPhone, MAX_IDENTITIES_PER_TEXT, normalizeEmail, TEXT_SCAN_LIMIT } from '../../../src/channels/identity.js';

/**
 * The extraction as it was before it was made linear: one regex over the whole text and
 * libphonenumber over the whole masked text. Quadratic, so only for small inputs, where the
 * linear version must agree with it exactly.
 */
const REFERENCE_EMAIL = /[\p{L}\p{N}._%+'-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/gu;

function referenceEmails(text: string): { at: number; text: string }[] {
  return [...text.matchAll(REFERENCE_EMAIL)].map((m) => ({ at: m.index, text: m[0] }));
}

function referenceExtract(text: string, region: 'PL' | 'IL'): SenderIdentity[] {
  const found: { at: number; identity: SenderIdentity }[] = [];
  const seen = new Set<string>();
  const add = (at: number, identity: SenderIdentity) => {
    const key = `${identity.kind}:${identity.address}`;
    if (seen.has(key)) return;
    seen.add(key);
    found.push({ at, identity });
  };
  let masked = text;
  for (const m of referenceEmails(text)) {
    const address = normalizeEmail(m.text.replace(/[.-]+$/, ''));
    if (address) add(m.at, { kind: 'email', address });
    masked = masked.slice(0, m.at) + ' '.repeat(m.text.length) + masked.slice(m.at + m.text.length);
  }
  for (const m of findPhoneNumbersInText(masked, region)) {
    const raw = masked.slice(m.startsAt, m.endsAt);
    if (!looksLikeTypedPhone(raw, masked.slice(Math.max(0, m.startsAt - 40), m.startsAt))) continue;
    if (m.number.isValid()) add(m.startsAt, { kind: 'phone', address: m.number.number });
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.identity);
}

// Small texts made of the pieces that matter: address characters, separators, digits and words.
const piece = fc.constantFrom('a', 'Ż', '1', '0', '.', '-', '_', '+', "'", '@', ' ', ',', '\n', 'x', 'jan', 'example', 'pl', 'com', '601 234 567', '050-123-4567', '+48', 'tel.', 'order', '..');
const smallText = fc.array(piece, { maxLength: 40 }).map((parts) => parts.join(''));

describe('e-mail candidates, linear scan', () => {
  it('finds exactly what the old regex found, on small inputs', () => {
    fc.assert(
      fc.property(smallText, (text) => {
        expect(findEmailCandidates(text)).toEqual(referenceEmails(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees on handpicked edge cases', () => {
    for (const text of ['a@b@c.d', 'a@b.c@d.e', 'x..y@a..b.c', 'jan@example.pl.', 'jan@example.pl--', '@a.b', 'a@.b.c', "o'neil+tag@ex-ample.co.uk, again", 'ü@ö.de']) {
      expect(findEmailCandidates(text), text).toEqual(referenceEmails(text));
    }
  });
});

describe('extractIdentitiesFromText', () => {
  it('finds the e-mails the reference finds, in order (small inputs)', () => {
    fc.assert(
      fc.property(smallText, fc.constantFrom('PL' as const, 'IL' as const), (text, region) => {
        const emails = (list: SenderIdentity[]) => list.filter((i) => i.kind === 'email');
        expect(emails(extractIdentitiesFromText(text, region))).toEqual(emails(referenceExtract(text, region)).slice(0, MAX_IDENTITIES_PER_TEXT));
      }),
      { numRuns: 1000 },
    );
  });

  it('equals the reference on messages made of words, numbers and addresses (small inputs)', () => {
    // Phones are compared on text where numbers stand apart. Glued together ("0,050-123-45670")
    // libphonenumber over the whole text reads numbers nobody typed ("123-45670"); read run by
    // run it does not, which is the better answer, so no property can ask for equality there.
    // Likewise after a number and "; " or ", " ("4321, 601 234 567" gives "234 567" or nothing).
    const word = fc.constantFrom('601 234 567', '050-123-4567', '+48 22 123 45 67', '+972 54 765 4321', 'order 4471', 'order no. 0501234567', 'tel.', 'call me', 'jan@example.pl', 'Dana.Cohen@Example.co.il', '12345678', '2024-11-30', 'faktura 221234567', 'zamówienie');
    const message = fc.array(word, { maxLength: 8 }).chain((words) => fc.constantFrom('\n', ' or ', ' and ').map((sep) => words.join(sep)));
    fc.assert(
      fc.property(message, fc.constantFrom('PL' as const, 'IL' as const), (text, region) => {
        expect(extractIdentitiesFromText(text, region)).toEqual(referenceExtract(text, region).slice(0, MAX_IDENTITIES_PER_TEXT));
      }),
      { numRuns: 500 },
    );
  });

  it('returns on a 900 KB adversarial message, reading only the first TEXT_SCAN_LIMIT characters', () => {
    // Each of these took the old regex seconds at 40 KB and minutes at 900 KB.
    const hostile = ['a'.repeat(900_000), '1'.repeat(900_000), 'a.'.repeat(450_000), '1 '.repeat(450_000), '+1-'.repeat(300_000), 'a.@'.repeat(300_000)];
    for (const text of hostile) expect(extractIdentitiesFromText(text, 'PL')).toEqual([]);
    const late = `${'x '.repeat(TEXT_SCAN_LIMIT)} late@example.com`;
    expect(extractIdentitiesFromText(late, 'PL')).toEqual([]);
    expect(extractIdentitiesFromText(`early@example.com ${late}`, 'PL')).toEqual([{ kind: 'email', address: 'early@example.com' }]);
  });

  it('does linear work: the token scan visits each character a bounded number of times', () => {
    // Counted, not timed: the regex engine's steps are invisible, so count the candidates the
    // scan produces and check the scan's output on a long input matches its output on the parts.
    const unit = 'abc.def@ghi.jk ';
    const long = unit.repeat(20_000);
    expect(findEmailCandidates(long)).toHaveLength(20_000);
  });

  it('caps the number of identities one message can claim', () => {
    const many = Array.from({ length: 50 }, (_, i) => `user${i}@example.com`).join(' ');
    const found = extractIdentitiesFromText(many, 'PL');
    expect(found).toHaveLength(MAX_IDENTITIES_PER_TEXT);
    expect(found[0]).toEqual({ kind: 'email', address: 'user0@example.com' });
  });
});
