import { hmacDigest, hmacEquals, stripSignaturePrefix } from '../signature.js';

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
