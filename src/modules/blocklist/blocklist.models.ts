import { domainToASCII, domainToUnicode } from 'node:url';
import type { SenderIdentity } from '../../channels/channel.types.js';
import { normalizeEmail, normalizePhone } from '../../channels/identity.js';

/** What can be blocked: one identity of a kind we store, or every address of an e-mail domain. */
export const BLOCK_KINDS = ['email', 'domain', 'phone', 'facebook', 'twitter'] as const;
export type BlockKind = (typeof BLOCK_KINDS)[number];

export interface BlockKey {
  kind: BlockKind;
  value: string;
}

/**
 * The phone entry that blocks every caller without a usable number: withheld caller ID, Twilio
 * Client and SIP callers, Twilio's ANONYMOUS/RESTRICTED placeholders. Intake gives each such
 * call its own identity ("anonymous:<CallSid>"), so no per-caller entry could ever match one,
 * and flood control (per customer) never sees two calls of the same one. Sharing one identity
 * among all of them instead would merge strangers' calls into one customer and one ticket, so
 * the control is this entry, which a supervisor adds when anonymous calls are abused.
 */
export const ANONYMOUS_CALLERS = 'anonymous';

/**
 * A domain as entries store it and senders are matched: NFC, lower case, without the root's
 * trailing dot, in IDNA ASCII form (punycode). mailparser hands us "bücher.example" for a
 * sender who wrote "xn--bcher-kva.example", and "blocked.example." is the same domain as
 * "blocked.example": both spellings must meet one stored form. '' when it is not a domain name.
 */
export function canonicalDomain(raw: string): string {
  const domain = raw.normalize('NFC').trim().toLowerCase().replace(/\.$/, '');
  return domain ? domainToASCII(domain) : '';
}

/** local@domain with the domain in canonical form; the local part lower-cased (as normalizeEmail does). */
function canonicalAddress(address: string): { local: string; domain: string } | null {
  const at = address.lastIndexOf('@');
  if (at < 1) return null;
  const domain = canonicalDomain(address.slice(at + 1));
  return domain ? { local: address.slice(0, at).normalize('NFC').trim().toLowerCase(), domain } : null;
}

/**
 * The stored form of a value to block, or an explanation of why it is not one. The same
 * normalization intake applies to senders, so "Spam@Example.COM" blocks spam@example.com and
 * "050-123-4567" blocks +972501234567 (with DEFAULT_PHONE_REGION IL); domains as canonicalDomain.
 */
export function normalizeBlockValue(kind: BlockKind, raw: string, defaultRegion: string): { value: string } | { error: string } {
  const trimmed = raw.trim();
  switch (kind) {
    case 'email': {
      const parts = canonicalAddress(trimmed.replace(/^mailto:/i, '').replace(/^<(.*)>$/, '$1'));
      const value = parts ? normalizeEmail(`${parts.local}@${parts.domain}`) : null;
      return value ? { value } : { error: 'is not an e-mail address' };
    }
    case 'domain': {
      const domain = canonicalDomain(trimmed.replace(/^@/, ''));
      // A domain is what may follow "@"; at least two labels, so "com" cannot block a whole TLD.
      return domain.includes('.') && normalizeEmail(`postmaster@${domain}`) === `postmaster@${domain}` ? { value: domain } : { error: 'is not an e-mail domain such as example.com' };
    }
    case 'phone': {
      if (trimmed.toLowerCase() === ANONYMOUS_CALLERS) return { value: ANONYMOUS_CALLERS };
      const value = normalizePhone(trimmed, defaultRegion);
      return value ? { value } : { error: `is not a valid phone number (default region ${defaultRegion}), nor "${ANONYMOUS_CALLERS}"` };
    }
    case 'facebook':
      // As Messenger senders are stored: "<page id>:<page-scoped user id>".
      return /^\d{1,32}:\d{1,32}$/.test(trimmed) ? { value: trimmed } : { error: 'is not a Facebook identity "<page id>:<page-scoped id>"' };
    case 'twitter':
      return /^\d{1,20}$/.test(trimmed) ? { value: trimmed } : { error: 'is not an X user id (digits)' };
  }
}

/**
 * Every entry that would block this sender: the identity itself; for an e-mail address also
 * the address without its "+tag" (an entry for user@d blocks user+anything@d), its domain and
 * each parent domain of two labels or more (blocking example.com blocks mail.example.com too),
 * domains in canonical form; for a caller without a usable number, ANONYMOUS_CALLERS.
 * Entries stored before domains were kept in ASCII form may hold the Unicode form, so that
 * spelling of each key is looked up too.
 */
export function blockKeysFor(sender: Pick<SenderIdentity, 'kind' | 'address'>): BlockKey[] {
  if (sender.kind === 'phone' && sender.address.startsWith(`${ANONYMOUS_CALLERS}:`)) {
    return [{ kind: 'phone', value: sender.address }, { kind: 'phone', value: ANONYMOUS_CALLERS }];
  }
  if (sender.kind !== 'email') return [{ kind: sender.kind, value: sender.address }];
  const parts = canonicalAddress(sender.address);
  if (!parts) return [{ kind: 'email', value: sender.address }];
  const keys: BlockKey[] = [];
  const add = (key: BlockKey) => {
    if (!keys.some((k) => k.kind === key.kind && k.value === key.value)) keys.push(key);
  };
  const unicode = domainToUnicode(parts.domain);
  const spellings = unicode && unicode !== parts.domain ? [parts.domain, unicode] : [parts.domain];
  const untagged = parts.local.indexOf('+') > 0 ? parts.local.slice(0, parts.local.indexOf('+')) : null;
  for (const domain of spellings) add({ kind: 'email', value: `${parts.local}@${domain}` });
  if (untagged) for (const domain of spellings) add({ kind: 'email', value: `${untagged}@${domain}` });
  for (const domain of spellings) {
    const labels = domain.split('.');
    for (let i = 0; i <= labels.length - 2; i++) add({ kind: 'domain', value: labels.slice(i).join('.') });
  }
  return keys;
}
