/**
 * Whether the listener takes mail for an address: the address itself is listed
 * ("support@example.com"), or its domain is ("example.com", or "@example.com"). Subdomains are
 * not implied: an MX for example.com is not one for every name under it.
 */
export function recipientAccepted(address: string, accepted: readonly string[]): boolean {
  const normalized = address.trim().toLowerCase().replace(/\.$/, '');
  const at = normalized.lastIndexOf('@');
  if (at <= 0 || at === normalized.length - 1) return false;
  const domain = normalized.slice(at + 1);
  return accepted.some((entry) => {
    const e = entry.toLowerCase().replace(/\.$/, '');
    if (e.includes('@') && !e.startsWith('@')) return e === normalized;
    return e.replace(/^@/, '') === domain;
  });
}
