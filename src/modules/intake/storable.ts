/**
 * Postgres text and jsonb hold neither U+0000 nor, in jsonb, a lone UTF-16 surrogate ("\ud800"
 * escapes are refused), and provider input carries both: a UTF-16 JSON body read as UTF-8 is
 * full of NULs, a JSON string may hold "\ud800", a mailer may put a NUL in a Message-ID. Left in,
 * the insert fails the transaction: a 500 on every retry, and the payload is lost. Raw bytes are
 * kept as bytea elsewhere; these functions make the strings storable.
 */

/**
 * Content and keys: NUL dropped, lone surrogates made U+FFFD. Deterministic, so a retry of the
 * same payload still finds the same idempotency keys.
 */
export function storable<T>(value: T): T {
  if (typeof value === 'string') return storableString(value) as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [storableString(key), storable(v)])) as T;
  }
  return value;
}

function storableString(value: string): string {
  const withoutNul = value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
  return wellFormed(withoutNul);
}

const ERROR_TEXT_LIMIT = 2_000;

/**
 * Error texts and other diagnostics quoting provider input: NUL and other C0 controls (except tab
 * and newline) are escaped as \u00XX so a reader still sees they were there; lone surrogates
 * become U+FFFD; the text is capped, since a parser may quote a large part of the input.
 */
export function escapedText(value: string): string {
  const capped = value.length > ERROR_TEXT_LIMIT ? `${value.slice(0, ERROR_TEXT_LIMIT)}…` : value;
  // eslint-disable-next-line no-control-regex
  const escaped = capped.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return wellFormed(escaped);
}

// String.prototype.toWellFormed is ES2024; our lib target is ES2023.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function wellFormed(value: string): string {
  return value.replace(LONE_SURROGATE, '\ufffd');
}
