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
 * The stored form of a value to block, or an explanation of why it is not one. The same
 * normalization intake applies to senders, so "Spam@Example.COM" blocks spam@example.com and
 * "050-123-4567" blocks +972501234567 (with DEFAULT_PHONE_REGION IL).
 */
export function normalizeBlockValue(kind: BlockKind, raw: string, defaultRegion: string): { value: string } | { error: string } {
  const trimmed = raw.trim();
  switch (kind) {
    case 'email': {
      const value = normalizeEmail(trimmed);
      return value ? { value } : { error: 'is not an e-mail address' };
    }
    case 'domain': {
      const domain = trimmed.replace(/^@/, '').replace(/\.$/, '').toLowerCase();
      // A domain is what may follow "@"; at least two labels, so "com" cannot block a whole TLD.
      return domain.includes('.') && normalizeEmail(`postmaster@${domain}`) === `postmaster@${domain}` ? { value: domain } : { error: 'is not an e-mail domain such as example.com' };
    }
    case 'phone': {
      const value = normalizePhone(trimmed, defaultRegion);
      return value ? { value } : { error: `is not a valid phone number (default region ${defaultRegion})` };
    }
    case 'facebook':
      // As Messenger senders are stored: "<page id>:<page-scoped user id>".
      return /^\d{1,32}:\d{1,32}$/.test(trimmed) ? { value: trimmed } : { error: 'is not a Facebook identity "<page id>:<page-scoped id>"' };
    case 'twitter':
      return /^\d{1,20}$/.test(trimmed) ? { value: trimmed } : { error: 'is not an X user id (digits)' };
  }
}

/**
 * Every entry that would block this sender: the identity itself and, for an e-mail address,
 * its domain and each parent domain of two labels or more (blocking example.com blocks
 * mail.example.com too).
 */
export function blockKeysFor(sender: Pick<SenderIdentity, 'kind' | 'address'>): BlockKey[] {
  const keys: BlockKey[] = [{ kind: sender.kind, value: sender.address }];
  if (sender.kind !== 'email') return keys;
  const at = sender.address.lastIndexOf('@');
  if (at < 0) return keys;
  const labels = sender.address.slice(at + 1).split('.');
  for (let i = 0; i <= labels.length - 2; i++) keys.push({ kind: 'domain', value: labels.slice(i).join('.') });
  return keys;
}
