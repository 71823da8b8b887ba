import ipaddr from 'ipaddr.js';

/**
 * The part of a client's address that per-address limits count by. One IPv6 subscriber gets a
 * whole /64 (and can pick any address in it), so an IPv6 address counts as its /64; an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket reports IPv4 clients)
 * counts as its IPv4 address. Anything that is not an address is kept as is.
 */
export function addressBucket(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.parts
    .slice(0, 4)
    .map((part) => part.toString(16))
    .join(':')}::/64`;
}
