import { promises as dns } from 'node:dns';

/** mailauth's resolver: (name, rrtype) → records, rejecting with a dns error code. */
export type DnsResolver = (domain: string, rrtype: string) => Promise<string[][] | string[]>;

export interface CachedResolverOptions {
  /** host:port pairs; empty: the system resolver's servers. */
  servers: readonly string[];
  timeoutMs: number;
  /** How long an answer (or a "no such record") is reused. */
  ttlMs: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  at: number;
  value?: string[][] | string[];
  error?: NodeJS.ErrnoException;
}

/** Answers that say "nothing there": cached like records. */
const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);
/** How long a failed query (timeout, refused, server failure) is answered from the cache. */
const FAILURE_TTL_MS = 30_000;

/**
 * A DNS resolver for sender authentication: timeouts on every query (a slow or dead resolver
 * cannot hold a message, or an SMTP session, for long), one try per server, and a bounded cache
 * of answers, so a backlog of mail from one domain asks DNS once. Concurrent identical queries
 * share one lookup.
 */
export function createCachedResolver(options: CachedResolverOptions): DnsResolver {
  const resolver = new dns.Resolver({ timeout: options.timeoutMs, tries: 1 });
  if (options.servers.length) resolver.setServers([...options.servers]);
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<string[][] | string[]>>();
  const max = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;

  const lookup = (domain: string, rrtype: string): Promise<string[][] | string[]> => {
    switch (rrtype) {
      case 'TXT':
        return resolver.resolveTxt(domain);
      case 'MX':
        return resolver.resolveMx(domain) as unknown as Promise<string[]>;
      case 'A':
        return resolver.resolve4(domain);
      case 'AAAA':
        return resolver.resolve6(domain);
      case 'PTR':
        return resolver.resolvePtr(domain);
      default:
        return resolver.resolve(domain, rrtype) as Promise<string[]>;
    }
  };

  return async (domain, rrtype) => {
    const key = `${rrtype}\u0000${domain.toLowerCase()}`;
    const hit = cache.get(key);
    if (hit && now() - hit.at < options.ttlMs) {
      if (hit.error) throw hit.error;
      return hit.value!;
    }
    const pending = inFlight.get(key);
    if (pending) return pending;
    const query = lookup(domain, rrtype)
      .then((value) => {
        remember(key, { at: now(), value });
        return value;
      })
      .catch((error: NodeJS.ErrnoException) => {
        // "No such record" is an answer, kept for the TTL. A timeout or a refused query is kept
        // briefly too: a dead resolver costs one timeout per name every FAILURE_TTL_MS, not one
        // per message of a backlog.
        remember(key, { at: error.code && NEGATIVE.has(error.code) ? now() : now() - Math.max(0, options.ttlMs - FAILURE_TTL_MS), error });
        throw error;
      })
      .finally(() => inFlight.delete(key));
    inFlight.set(key, query);
    return query;
  };

  function remember(key: string, entry: Entry): void {
    if (cache.size >= max) cache.delete(cache.keys().next().value!);
    cache.set(key, entry);
  }
}
