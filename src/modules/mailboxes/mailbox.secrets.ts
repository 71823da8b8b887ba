import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** What a mailbox needs to log in: a password, or what obtains an OAuth2 access token. */
export type MailboxSecret = { kind: 'password'; password: string } | { kind: 'oauth2'; refreshToken: string; clientSecret?: string | undefined };

/** v1: the mailbox id alone is the additional data (rows sealed before v2 stay readable); v2 binds the host too. */
const LEGACY = 'v1';
const VERSION = 'v2';

/** v2's additional data: the id and the host it was given for (a NUL cannot occur in either). */
function additionalData(version: string, mailboxId: string, host: string): Buffer {
  return Buffer.from(version === LEGACY ? mailboxId : `${mailboxId}\0${host.toLowerCase()}`, 'utf8');
}

/**
 * MAILBOX_SECRET_KEY as 32 bytes: 64 hex digits or base64 of 32 bytes are taken as they are; any
 * other passphrase is hashed (SHA-256), so an operator can paste a long random string.
 */
export function mailboxKey(setting: string): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(setting)) return Buffer.from(setting, 'hex');
  const b64 = /^[A-Za-z0-9+/]{43}=?$/.test(setting) ? Buffer.from(setting, 'base64') : null;
  if (b64?.length === 32) return b64;
  return createHash('sha256').update(setting, 'utf8').digest();
}

/**
 * AES-256-GCM (node:crypto), a fresh 96-bit nonce per secret; the mailbox id and its IMAP host
 * are the additional data, so a ciphertext copied onto another mailbox's row, or a row whose host
 * was changed behind the API's back, does not decrypt: the credential only goes to the server it
 * was given for. Stored as "v2:<nonce>:<tag>:<ciphertext>", base64.
 */
export function sealSecret(key: Buffer, mailboxId: string, host: string, secret: MailboxSecret): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(additionalData(VERSION, mailboxId, host));
  const body = Buffer.concat([cipher.update(JSON.stringify(secret), 'utf8'), cipher.final()]);
  return [VERSION, nonce.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
}

export class SecretUnreadableError extends Error {
  constructor() {
    super('the mailbox secret cannot be decrypted with MAILBOX_SECRET_KEY (was the key changed?)');
    this.name = 'SecretUnreadableError';
  }
}

/** Whether a sealed secret predates the host binding (the fetcher re-seals it as v2). */
export function isLegacySeal(sealed: string): boolean {
  return sealed.startsWith(`${LEGACY}:`);
}

export function openSecret(key: Buffer, mailboxId: string, host: string, sealed: string): MailboxSecret {
  const [version, nonce, tag, body] = sealed.split(':');
  if ((version !== VERSION && version !== LEGACY) || !nonce || !tag || body === undefined) throw new SecretUnreadableError();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64'));
    decipher.setAAD(additionalData(version, mailboxId, host));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
    return JSON.parse(plain) as MailboxSecret;
  } catch {
    throw new SecretUnreadableError();
  }
}
