import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * The one guard every URL we call on someone's behalf passes (escalation webhooks now,
 * subscriptions later): without it, whoever may edit a policy may make our worker POST to the
 * cloud metadata service, to Redis on localhost, or anywhere on the internal network (SSRF).
 *
 * A URL is checked three times: its shape when it is saved, its resolved addresses when it is
 * saved, and the addresses the socket actually connects to (a lookup hook on the request), so a
 * DNS answer that changes after validation (DNS rebinding) cannot swap in a private address.
 */
export interface OutboundPolicy {
  /** Private, loopback, link-local… addresses allowed (local test receivers). */
  allowPrivate: boolean;
  /** Plain http allowed (otherwise https only). */
  allowHttp: boolean;
}

export class OutboundUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundUrlError';
  }
}

// IPv6 forms that carry an IPv4 address in their last 32 bits: ::ffff:a.b.c.d (and the old
// ::a.b.c.d), SIIT (rfc6145) and NAT64 (64:ff9b::/96, rfc6052). They are judged by that IPv4.
const EMBEDS_IPV4 = new Set(['ipv4Mapped', 'rfc6145', 'rfc6052']);

/**
 * ::/96, the deprecated IPv4-compatible form (rfc4291 2.5.5.1). ipaddr.js reads "::a.b.c.d" as
 * mapped, but the WHATWG parser writes http://[::127.0.0.1]/ as [::7f00:1], which ipaddr.js
 * calls plain unicast; judging the whole /96 by its last 32 bits treats both spellings alike
 * (:: and ::1, in it too, keep their own names).
 */
function isIpv4Compatible(address: ipaddr.IPv6): boolean {
  return address.range() === 'unicast' && address.parts.slice(0, 6).every((part) => part === 0);
}

/** Why an address may not be called, or null if it is a public unicast address. */
export function forbiddenAddressReason(address: string): string | null {
  if (!ipaddr.isValid(address)) return `"${address}" is not an IP address`;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (EMBEDS_IPV4.has(parsed.range()) || isIpv4Compatible(parsed as ipaddr.IPv6))) {
    const [, , , , , , high = 0, low = 0] = (parsed as ipaddr.IPv6).parts;
    parsed = new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  }
  const range = parsed.range();
  // Everything but plain unicast: loopback, private, linkLocal (169.254.169.254, the metadata
  // service), uniqueLocal, unspecified (0.0.0.0 reaches localhost on Linux), multicast,
  // broadcast, carrierGradeNat, reserved, 6to4/teredo tunnels…
  return range === 'unicast' ? null : `${parsed.toString()} is a ${range} address`;
}

/** The literal IP of a URL's host ("[::1]" → "::1"), or undefined for a name. */
function literalAddress(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(bare) ? bare : undefined;
}

/**
 * The checks that need no network: a URL, an allowed scheme, no credentials in it, and, when
 * its host is an IP literal, an allowed address. The WHATWG parser has already normalised
 * tricks such as http://0x7f.1/ or http://2130706433/ into 127.0.0.1.
 */
export function checkOutboundUrlShape(raw: string, policy: OutboundPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundUrlError('is not a URL');
  }
  const schemes = policy.allowHttp ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) throw new OutboundUrlError(policy.allowHttp ? 'must be an http(s) URL' : 'must be an https URL');
  if (url.username || url.password) throw new OutboundUrlError('must not carry credentials');
  const literal = literalAddress(url.hostname);
  if (literal !== undefined && !policy.allowPrivate) {
    const reason = forbiddenAddressReason(literal);
    if (reason) throw new OutboundUrlError(`must not point to a private or internal address (${reason})`);
  }
  return url;
}

type Resolve = (hostname: string) => Promise<{ address: string }[]>;
const resolveAll: Resolve = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/** The shape checks, then every address the host resolves to (all must be allowed). */
export async function assertOutboundUrl(raw: string, policy: OutboundPolicy, resolve: Resolve = resolveAll): Promise<URL> {
  const url = checkOutboundUrlShape(raw, policy);
  if (policy.allowPrivate || literalAddress(url.hostname) !== undefined) return url;
  let addresses: { address: string }[];
  try {
    addresses = await resolve(url.hostname);
  } catch {
    throw new OutboundUrlError(`its host ${url.hostname} does not resolve`);
  }
  for (const { address } of addresses) {
    const reason = forbiddenAddressReason(address);
    if (reason) throw new OutboundUrlError(`its host ${url.hostname} resolves to a private or internal address (${reason})`);
  }
  return url;
}

/**
 * A socket lookup that refuses forbidden addresses: the check at connect time. Node calls it
 * with `all: true` when it races address families (autoSelectFamily), so both forms answer.
 */
export function guardedLookup(policy: OutboundPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 4);
      const refused = policy.allowPrivate ? null : addresses.map((a) => forbiddenAddressReason(a.address)).find((r) => r !== null);
      if (refused) {
        const blocked = Object.assign(new OutboundUrlError(`${hostname} resolved to a forbidden address (${refused})`), { code: 'EOUTBOUNDFORBIDDEN' });
        return callback(blocked, '', 4);
      }
      if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 4);
      callback(null, first.address, first.family);
    });
  };
}

/**
 * POSTs a body to a guarded URL and answers the status. Redirects are not followed (a 3xx is
 * the receiver's answer): following one would lead past the guard.
 */
export async function postOutbound(raw: string, request: { headers: Record<string, string>; body: string; timeoutMs: number; agent?: http.Agent }, policy: OutboundPolicy): Promise<number> {
  const url = checkOutboundUrlShape(raw, policy);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<number>((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
        lookup: guardedLookup(policy),
        // A fresh connection per call unless the caller keeps a pool for this one URL under a
        // policy that does not change (the webhook pump: a pool per subscription); the guarded
        // lookup runs for every new connection either way.
        agent: request.agent ?? false,
        signal: AbortSignal.timeout(request.timeoutMs),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(request.body);
  });
}
