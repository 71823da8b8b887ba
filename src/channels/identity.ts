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
 * How much of a message the extraction reads, and how many identities it returns. Real chat
 * messages are short (an X DM holds at most 10,000 characters); a claimed address is a hint for
 * an agent (see customer suggestions), so missing one in a 900 KB message costs nothing, while
 * reading all of it would let one webhook hold the event loop.
 */
export const TEXT_SCAN_LIMIT = 20_000;
export const MAX_IDENTITIES_PER_TEXT = 10;
/** A run of digits and phone punctuation longer than this is a table or noise, not a number someone typed. */
const MAX_PHONE_RUN = 64;
/** libphonenumber costs ~0.1 ms a run: a message with more candidate runs than this is a list, not a contact. */
const MAX_PHONE_RUNS = 50;

/**
 * E-mail addresses and phone numbers a customer typed into a message ("call me on 050-123-4567").
 * Conservative on phones: complaint texts are full of order, invoice and parcel numbers, and a
 * false phone identity can merge two customers, while a missed one costs nothing.
 *
 * Linear time: the text is cut into bounded tokens first and each token is examined on its
 * own (a single regex over the whole text backtracked quadratically: 40,000 characters took
 * seconds). Only the first TEXT_SCAN_LIMIT characters are read.
 */
export function extractIdentitiesFromText(input: string, defaultRegion: string): SenderIdentity[] {
  const text = input.length > TEXT_SCAN_LIMIT ? input.slice(0, TEXT_SCAN_LIMIT) : input;
  const found: { at: number; identity: SenderIdentity }[] = [];
  const seen = new Set<string>();
  const add = (at: number, identity: SenderIdentity): void => {
    const key = `${identity.kind}:${identity.address}`;
    if (seen.has(key)) return;
    seen.add(key);
    found.push({ at, identity });
  };

  // Blanked out before the phone search so that "0501234567@example.com" is not also a phone.
  const maskedParts: string[] = [];
  let copiedUpTo = 0;
  for (const match of findEmailCandidates(text)) {
    const address = normalizeEmail(trimTrailing(match.text, '.-'));
    if (address) add(match.at, { kind: 'email', address });
    maskedParts.push(text.slice(copiedUpTo, match.at), ' '.repeat(match.text.length));
    copiedUpTo = match.at + match.text.length;
  }
  maskedParts.push(text.slice(copiedUpTo));
  const masked = maskedParts.join('');

  const country = toCountry(defaultRegion);
  let runsExamined = 0;
  for (const run of masked.matchAll(PHONE_RUN)) {
    if (run[0].length > MAX_PHONE_RUN || countDigits(run[0]) < 8) continue;
    if (++runsExamined > MAX_PHONE_RUNS) break;
    // One character either side, so libphonenumber still sees what the number touches.
    const from = Math.max(0, run.index - 1);
    const window = masked.slice(from, run.index + run[0].length + 1);
    const matches = country ? findPhoneNumbersInText(window, country) : findPhoneNumbersInText(window);
    for (const match of matches) {
      const startsAt = from + match.startsAt;
      const rawNumber = masked.slice(startsAt, from + match.endsAt);
      if (!looksLikeTypedPhone(rawNumber, masked.slice(Math.max(0, startsAt - 40), startsAt))) continue;
      if (!match.number.isValid()) continue;
      add(startsAt, { kind: 'phone', address: match.number.number });
    }
  }

  return found
    .sort((a, b) => a.at - b.at)
    .slice(0, MAX_IDENTITIES_PER_TEXT)
    .map((f) => f.identity);
}

// Characters an address candidate is made of (local part: letters, digits and ._%+'-; domain
// labels: letters, digits and -). A maximal run of them is a token; nothing spans two tokens.
const EMAIL_TOKEN = /[\p{L}\p{N}._%+'@-]+/gu;
const NOT_DOMAIN = new Set(['.', '_', '%', '+', "'", '@']);

/**
 * What /[\p{L}\p{N}._%+'-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/gu would match, found in one
 * left-to-right pass per token: a local part runs from the last match end (or '@') to the next
 * '@'; the domain is the longest run of labels joined by single dots, with at least one dot.
 */
export function findEmailCandidates(text: string): { at: number; text: string }[] {
  const out: { at: number; text: string }[] = [];
  for (const token of text.matchAll(EMAIL_TOKEN)) {
    const t = token[0];
    let pos = 0;
    while (pos < t.length) {
      const at = t.indexOf('@', pos);
      if (at < 0) break;
      const end = at > pos ? domainEnd(t, at + 1) : -1;
      if (end < 0) {
        pos = at + 1;
        continue;
      }
      out.push({ at: token.index + pos, text: t.slice(pos, end) });
      pos = end;
    }
  }
  return out;
}

/** End (exclusive) of the longest "label(.label)+" starting at `from`, or -1 when there is none. */
function domainEnd(t: string, from: number): number {
  let i = from;
  let labels = 0;
  let end = -1;
  for (;;) {
    const labelStart = i;
    while (i < t.length && !NOT_DOMAIN.has(t[i]!)) i++;
    if (i === labelStart) return end;
    labels++;
    if (labels >= 2) end = i;
    if (t[i] !== '.') return end;
    i++;
  }
}

function trimTrailing(value: string, chars: string): string {
  let end = value.length;
  while (end > 0 && chars.includes(value[end - 1]!)) end--;
  return value.slice(0, end);
}

function countDigits(value: string): number {
  let n = 0;
  for (const ch of value) if (/\p{Nd}/u.test(ch)) n++;
  return n;
}

// Digits (any script libphonenumber reads), plus and the punctuation it accepts inside a number.
const PHONE_RUN = /[\p{Nd}+\uFF0B\-\u2010-\u2015\u2212\u30FC\uFF0D\uFF0F/\uFF0E. \t\u00A0\u00AD\u200B\u2060\u3000()\uFF08\uFF09\uFF3B\uFF3D[\]~\u2053\u223C\uFF5E]+/gu;

// "#4471", "order no. 2024113", "zamówienie nr 601234567", "הזמנה 0501234567", "заказ 12345678".
const REFERENCE_BEFORE = new RegExp(
  String.raw`(?:[#№]|(?<![\p{L}\p{N}])(?:no|nr|ref|reference|id|order|invoice|tracking|awb|parcel|shipment|account|acct|iban|pesel|nip|zam[oó]wieni[aeu]|faktur[aey]?|przesy[lł]k[aiy]|paczk[aiy]|הזמנה|חשבונית|משלוח|חשבון|заказ[а-яё]*|счет[а-яё]*|счёт[а-яё]*|посылк[а-яё]*|طلب|فاتورة|شحنة))` +
    String.raw`(?:\s*(?:number|num|no|nr|numer|id|is|was|מס'?|מספר|номер|№|#|:|=|\.|-))*\s*$`,
  'iu',
);

const PHONE_CUE_BEFORE =
  /(?:tel|phone|telefon\p{L}*|mobile|cell|kom[oó]rk\p{L}*|whatsapp|טלפון|נייד|телефон\p{L}*|هاتف|جوال)\.?(?:\s*(?:no|nr|number|numer|is|:|\.|-))*\s*$/iu;

export function looksLikeTypedPhone(raw: string, before: string): boolean {
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
