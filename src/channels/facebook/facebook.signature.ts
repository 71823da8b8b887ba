import { hmacDigest, hmacEquals, stripSignaturePrefix } from '../signature.js';

/**
 * Checks X-Hub-Signature-256. Meta signs the exact bytes it sent (with unicode escaped), so the
 * raw body must be used: re-serialised JSON does not match.
 */
export function verifyFacebookSignature(rawBody: Buffer, header: string | undefined, appSecret: string): boolean {
  // An unset secret must not turn into "everyone can forge an HMAC keyed with ''".
  if (appSecret.length === 0) return false;
  const given = stripSignaturePrefix(header, 'sha256=');
  if (given === undefined) return false;
  const expected = hmacDigest('sha256', appSecret, rawBody, 'hex');
  // Meta documents lowercase hex; tolerate uppercase rather than reject a genuine delivery.
  return hmacEquals(expected, given.toLowerCase());
}

/**
 * The GET subscription handshake: the challenge to echo back as text/plain, or null (answer 403).
 * Accepts the flat keys Fastify produces ("hub.mode"), a nested `hub` object (qs-style parsers)
 * and PHP-style underscores, since which one arrives depends on the query parser in front.
 */
export function facebookVerifyChallenge(query: Record<string, unknown>, verifyToken: string): string | null {
  if (verifyToken.length === 0) return null;
  const mode = hubParam(query, 'mode');
  const token = hubParam(query, 'verify_token');
  const challenge = hubParam(query, 'challenge');
  if (mode !== 'subscribe' || challenge === undefined) return null;
  if (!hmacEquals(verifyToken, token)) return null;
  // Echoed verbatim, so refuse anything that is not a plain token (Meta sends digits).
  if (challenge.length > 1024 || !/^[\x21-\x7e]+$/.test(challenge)) return null;
  return challenge;
}

function hubParam(query: Record<string, unknown>, name: string): string | undefined {
  const nested = query['hub'];
  const candidates = [
    query[`hub.${name}`],
    query[`hub_${name}`],
    typeof nested === 'object' && nested !== null ? (nested as Record<string, unknown>)[name] : undefined,
  ];
  for (const value of candidates) {
    // A repeated parameter arrives as an array; that is not a handshake Meta sends.
    if (typeof value === 'string') return value;
  }
  return undefined;
}
