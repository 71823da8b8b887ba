import { hmacDigest, hmacEquals, stripSignaturePrefix } from '../signature.js';

/**
 * What a crc_token from X looks like: a run of base64/base64url characters (X sends long random
 * ones, e.g. 48 characters of base64url). X documents no exact format, so the upper bound is
 * generous. Its purpose is to keep the CRC answer from being a signing oracle: the answer is
 * HMAC(consumer secret, token), which is exactly the signature of a POST whose body is that
 * token. No body made only of these characters is a JSON object; scalar JSON (`1`, `null`,
 * `true`, a long number) is refused by isCrcTokenShaped, and the 16-character minimum keeps
 * the short words out as well.
 */
export const CRC_TOKEN_PATTERN = /^[A-Za-z0-9_\-+/=]{16,128}$/;

/** Token-shaped and not a JSON text of any kind: nothing it signs can be parsed as a body. */
export function isCrcTokenShaped(value: string): boolean {
  return CRC_TOKEN_PATTERN.test(value) && !parsesAsJson(value);
}

function parsesAsJson(value: string): boolean {
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Answer to X's GET ?crc_token=… challenge. Base64 of the raw digest, not hex: the hex form is
 * the classic mistake and makes X stop delivering events.
 */
export function twitterCrcResponse(crcToken: string, consumerSecret: string): { response_token: string } {
  return { response_token: `sha256=${hmacDigest('sha256', consumerSecret, crcToken, 'base64')}` };
}

/** Checks x-twitter-webhooks-signature ("sha256=" + base64 HMAC-SHA256 of the raw body). */
export function verifyTwitterSignature(rawBody: Buffer, header: string | undefined, consumerSecret: string): boolean {
  if (consumerSecret.length === 0) return false;
  const given = stripSignaturePrefix(header, 'sha256=');
  if (given === undefined) return false;
  return hmacEquals(hmacDigest('sha256', consumerSecret, rawBody, 'base64'), given);
}
