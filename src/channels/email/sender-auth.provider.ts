/** The headers of a provider's parsed message that sender authentication reads (issue 19). */
const AUTHENTICATION_HEADERS = ['authentication-results', 'x-mailgun-spf', 'x-mailgun-dkim-check-result', 'dkim-signature'];

/**
 * Mailgun posts the message's headers as a JSON list, folded here by name; these keep their
 * order within a name (the topmost Authentication-Results first). The envelope sender goes
 * along as X-Envelope-From, the domain Mailgun's SPF verdict is about.
 */
export function authenticationHeaders(headers: Map<string, string[]>, envelopeSender: string): [string, string][] | undefined {
  const pairs: [string, string][] = [];
  for (const name of AUTHENTICATION_HEADERS) for (const value of headers.get(name) ?? []) pairs.push([name, value]);
  if (pairs.length === 0) return undefined;
  if (envelopeSender) pairs.push(['x-envelope-from', envelopeSender]);
  return pairs;
}
