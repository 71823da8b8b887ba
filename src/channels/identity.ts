import { findPhoneNumbersInText, isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js';
import type { CountryCode } from 'libphonenumber-js';
import type { SenderIdentity } from './channel.types.js';

// Deliberately loose (RFC 5321 allows far more than any regex should try to judge): one "@",
// a dot-atom-ish local part, and a domain of letter/digit labels with an alphabetic TLD.
// \p{L} keeps internationalised domains (and their punycode form) acceptable.
const EMAIL_SHAPE = /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+(?:[\p{L}]{2,63}|xn--[a-z0-9-]{1,59})$/u;

/** Lower-cased address, or null when it does not look like an e-mail address at all. */
export function normalizeEmail(raw: string | null | undefined): string | null {
  if (typeof raw !== 'string') return null;
  let value = raw.trim();
  if (/^mailto:/i.test(value)) value = value.slice('mailto:'.length);
  if (value.startsWith('<') && value.endsWith('>')) value = value.slice(1, -1).trim();
  // Lower-casing the local part is technically lossy, but no mailbox provider we will meet
  // treats case as significant, and one customer must not become two identities over it.
  value = value.toLowerCase();
  if (value.length > 254) return null;
  const at = value.lastIndexOf('@');
  if (at < 1 || at > 64) return null;
  return EMAIL_SHAPE.test(value) ? value : null;
}

/** E.164 ("+48221234567"), or null when the number is not a valid number for its country. */
export function normalizePhone(raw: string | null | undefined, defaultRegion: string): string | null {
  if (typeof raw !== 'string') return null;
  const value = raw.trim();
  if (value.length === 0) return null;
  // "client:alice", "sip:…", "anonymous", "Restricted": identities perhaps, phone numbers not.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'tel') return null;
  const withoutExtension = value.replace(/^tel:/i, '').replace(/(?:ext\.?|x|#)\s*\d+$/i, '');
  if (/\p{L}/u.test(withoutExtension)) return null;
  const parsed = parsePhoneNumberFromString(value, toCountry(defaultRegion));
  return parsed?.isValid() ? parsed.number : null;
}

/**
 * E-mail addresses and phone numbers a customer typed into a message ("call me on 050-123-4567").
 * Conservative on phones: complaint texts are full of order, invoice and parcel numbers, and a
 * false phone identity can merge two customers, while a missed one costs nothing.
 */
export function extractIdentitiesFromText(text: string, defaultRegion: string): SenderIdentity[] {
  const found: { at: number; identity: SenderIdentity }[] = [];
  const seen = new Set<string>();
  const add = (at: number, identity: SenderIdentity): void => {
    const key = `${identity.kind}:${identity.address}`;
    if (seen.has(key)) return;
    seen.add(key);
    found.push({ at, identity });
  };

  // Blanked out before the phone search so that "0501234567@example.com" is not also a phone.
  let masked = text;
  for (const match of text.matchAll(/[\p{L}\p{N}._%+'-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/gu)) {
    const address = normalizeEmail(match[0].replace(/[.-]+$/, ''));
    if (address) add(match.index, { kind: 'email', address });
    masked = masked.slice(0, match.index) + ' '.repeat(match[0].length) + masked.slice(match.index + match[0].length);
  }

  const country = toCountry(defaultRegion);
  const matches = country ? findPhoneNumbersInText(masked, country) : findPhoneNumbersInText(masked);
  for (const match of matches) {
    const rawNumber = masked.slice(match.startsAt, match.endsAt);
    if (!looksLikeTypedPhone(rawNumber, masked.slice(Math.max(0, match.startsAt - 40), match.startsAt))) continue;
    if (!match.number.isValid()) continue;
    add(match.startsAt, { kind: 'phone', address: match.number.number });
  }

  return found.sort((a, b) => a.at - b.at).map((f) => f.identity);
}

// "#4471", "order no. 2024113", "zamówienie nr 601234567", "הזמנה 0501234567", "заказ 12345678".
const REFERENCE_BEFORE = new RegExp(
  String.raw`(?:[#№]|(?<![\p{L}\p{N}])(?:no|nr|ref|reference|id|order|invoice|tracking|awb|parcel|shipment|account|acct|iban|pesel|nip|zam[oó]wieni[aeu]|faktur[aey]?|przesy[lł]k[aiy]|paczk[aiy]|הזמנה|חשבונית|משלוח|חשבון|заказ[а-яё]*|счет[а-яё]*|счёт[а-яё]*|посылк[а-яё]*|طلب|فاتورة|شحنة))` +
    String.raw`(?:\s*(?:number|num|no|nr|numer|id|is|was|מס'?|מספר|номер|№|#|:|=|\.|-))*\s*$`,
  'iu',
);

const PHONE_CUE_BEFORE =
  /(?:tel|phone|telefon\p{L}*|mobile|cell|kom[oó]rk\p{L}*|whatsapp|טלפון|נייד|телефон\p{L}*|هاتف|جوال)\.?(?:\s*(?:no|nr|number|numer|is|:|\.|-))*\s*$/iu;

function looksLikeTypedPhone(raw: string, before: string): boolean {
  const digits = raw.replace(/\D/g, '');
  // Shortest real subscriber numbers we care about (IL landline 02-xxx-xxxx, PL 9 digits) have 8+.
  if (digits.length < 8) return false;
  // Dates and times ("2024-11-30", "30.11.2024") pass as valid landlines in some countries.
  if (/^\d{1,4}[-./]\d{1,2}[-./]\d{1,4}$/.test(raw.trim())) return false;
  // "tel. nr 601 234 567": an explicit phone word beats the reference word that follows it.
  return PHONE_CUE_BEFORE.test(before) || !REFERENCE_BEFORE.test(before);
}

function toCountry(region: string): CountryCode | undefined {
  const upper = region.trim().toUpperCase();
  return isSupportedCountry(upper) ? upper : undefined;
}
