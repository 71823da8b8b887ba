import { describe, expect, it } from 'vitest';
import { extractIdentitiesFromText, normalizeEmail, normalizePhone } from '../../../src/channels/identity.js';

describe('normalizeEmail', () => {
  it('trims, unwraps and lower-cases', () => {
    expect(normalizeEmail('  Jan.Kowalski@Example.PL ')).toBe('jan.kowalski@example.pl');
    expect(normalizeEmail('<dana@example.co.il>')).toBe('dana@example.co.il');
    expect(normalizeEmail('mailto:Support+tag@Shop.example.com')).toBe('support+tag@shop.example.com');
    expect(normalizeEmail('józef@poczta.pl')).toBe('józef@poczta.pl');
  });

  it('rejects what is not an address', () => {
    for (const bad of ['', 'jan', 'jan@', '@example.com', 'jan@example', 'jan@@example.com', 'jan..k@example.com', '.jan@example.com', 'jan @example.com', 'jan@-example.com', `${'a'.repeat(65)}@example.com`]) {
      expect(normalizeEmail(bad), bad).toBeNull();
    }
    expect(normalizeEmail(undefined)).toBeNull();
    expect(normalizeEmail(null)).toBeNull();
  });
});

describe('normalizePhone', () => {
  it('normalizes Israeli numbers with default region IL', () => {
    expect(normalizePhone('0501234567', 'IL')).toBe('+972501234567');
    expect(normalizePhone('050-123-4567', 'IL')).toBe('+972501234567');
    expect(normalizePhone('03-123-4567', 'il')).toBe('+97231234567');
    expect(normalizePhone('+972 50 123 4567', 'PL')).toBe('+972501234567');
  });

  it('normalizes Polish numbers with default region PL', () => {
    expect(normalizePhone('22 123 45 67', 'PL')).toBe('+48221234567');
    expect(normalizePhone('601 234 567', 'PL')).toBe('+48601234567');
    expect(normalizePhone('+48221234567', 'IL')).toBe('+48221234567');
    expect(normalizePhone('0048 601 234 567', 'PL')).toBe('+48601234567');
    expect(normalizePhone('tel:+48221234567', 'IL')).toBe('+48221234567');
  });

  it('returns null for invalid numbers and non-numbers', () => {
    for (const bad of ['', '4471', '123', '0501234567', 'anonymous', 'client:alice', 'sip:bob@pbx.example', '+266696687', 'Restricted']) {
      expect(normalizePhone(bad, bad === '0501234567' ? 'PL' : 'IL'), bad).toBeNull();
    }
    expect(normalizePhone('22 123 45 67', 'XX')).toBeNull();
    expect(normalizePhone(undefined, 'PL')).toBeNull();
  });
});

describe('extractIdentitiesFromText', () => {
  it('finds typed phones and e-mails in order of appearance', () => {
    expect(extractIdentitiesFromText('Call me at 050-123-4567 or write to Dana.Cohen@Example.co.il.', 'IL')).toEqual([
      { kind: 'phone', address: '+972501234567' },
      { kind: 'email', address: 'dana.cohen@example.co.il' },
    ]);
    expect(extractIdentitiesFromText('mój numer: 601 234 567, mail jan@example.pl', 'PL')).toEqual([
      { kind: 'phone', address: '+48601234567' },
      { kind: 'email', address: 'jan@example.pl' },
    ]);
    expect(extractIdentitiesFromText('my number is +48 601 234 567', 'IL')).toEqual([{ kind: 'phone', address: '+48601234567' }]);
    expect(extractIdentitiesFromText('המספר שלי 052-555-1234', 'IL')).toEqual([{ kind: 'phone', address: '+972525551234' }]);
    expect(extractIdentitiesFromText('zamówienie 4471, tel. nr 601 234 567', 'PL')).toEqual([{ kind: 'phone', address: '+48601234567' }]);
  });

  it('does not take order numbers, short runs or dates for phones', () => {
    const none = [
      ['Hi, my order #4471 arrived damaged', 'IL'],
      ['order 123456789 please', 'PL'],
      ['Order no. 0501234567 never came', 'IL'],
      ['my order number is 0501234567', 'IL'],
      ['zamówienie nr 601234567 nie dotarło', 'PL'],
      ['faktura 221234567', 'PL'],
      ['הזמנה 0501234567 לא הגיעה', 'IL'],
      ['номер заказа 0501234567', 'IL'],
      ['delivered on 2024-11-30, ref 12345678', 'IL'],
      ['call 1234', 'PL'],
    ] as const;
    for (const [text, region] of none) expect(extractIdentitiesFromText(text, region), text).toEqual([]);
  });

  it('does not read a phone out of an e-mail address and de-duplicates', () => {
    expect(extractIdentitiesFromText('0501234567@example.com and again 0501234567@example.com', 'IL')).toEqual([
      { kind: 'email', address: '0501234567@example.com' },
    ]);
    expect(extractIdentitiesFromText('050-123-4567 / +972501234567', 'IL')).toEqual([{ kind: 'phone', address: '+972501234567' }]);
  });
});
