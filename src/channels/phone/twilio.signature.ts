import { hmacDigest, hmacEquals } from '../signature.js';

/**
 * Checks X-Twilio-Signature: base64 HMAC-SHA1 (key = auth token) over the full URL Twilio
 * called followed by every POST parameter as key+value in key order; repeated parameters are
 * de-duplicated, sorted and each appended as key+value (as twilio-node does).
 *
 * Twilio's backend is inconsistent about ports, so, like twilio-node's validateRequest, the URL
 * is also tried without its port and with the scheme's default port. The URL is signed exactly
 * as given (no re-encoding): the caller must pass the public URL Twilio used, which behind a
 * TLS-terminating proxy is not the one the server sees.
 */
export function verifyTwilioSignature(
  url: string,
  params: Record<string, string | string[]>,
  header: string | undefined,
  authToken: string,
): boolean {
  if (authToken.length === 0 || !header) return false;
  const payload = Object.keys(params)
    .sort()
    .map((key) => {
      const value = params[key] ?? '';
      return Array.isArray(value) ? [...new Set(value)].sort().map((v) => key + v).join('') : key + value;
    })
    .join('');
  // Every variant is computed and compared, so timing does not reveal which one matched.
  let valid = false;
  for (const candidate of urlVariants(url)) {
    if (hmacEquals(hmacDigest('sha1', authToken, Buffer.from(candidate + payload, 'utf8'), 'base64'), header)) valid = true;
  }
  return valid;
}

/** The URL as given, without any port, and with the default port when none was given. */
export function urlVariants(url: string): string[] {
  const match = /^(https?):\/\/([^/?#]*)(.*)$/is.exec(url);
  if (!match) return [url];
  const [, scheme = '', authority = '', rest = ''] = match;
  const at = authority.lastIndexOf('@');
  const userinfo = authority.slice(0, at + 1);
  const hostPort = authority.slice(at + 1);
  // The port is whatever follows the last colon after the host; an IPv6 literal ends in "]".
  const portMatch = /^(.*?)(?::(\d*))?$/.exec(hostPort);
  const host = portMatch?.[1] ?? hostPort;
  const hasPort = portMatch?.[2] !== undefined;
  const variants = new Set([url, `${scheme}://${userinfo}${host}${rest}`]);
  if (!hasPort) {
    const defaultPort = scheme.toLowerCase() === 'https' ? 443 : 80;
    variants.add(`${scheme}://${userinfo}${host}:${defaultPort}${rest}`);
  }
  return [...variants];
}
