import type * as Mailauth from 'mailauth';
import type { AuthenticateResult } from 'mailauth';
import type { Logger } from 'pino';
import {
  authResult,
  domainOf,
  factsFromAuthResults,
  headerLinesOf,
  judged,
  trustedAuthResults,
  type AuthenticationFacts,
  type SenderAuthentication,
} from '../../domain/mail/sender-verdict.js';
import { createCachedResolver, type DnsResolver } from './sender-auth.dns.js';

/** What the SMTP session told us: the connecting address, its HELO and the MAIL FROM. */
export interface SmtpEnvelope {
  ip: string;
  helo?: string | undefined;
  mailFrom?: string | undefined;
}

// mailauth is loaded on the first e-mail, not with the service: it is the heaviest module of
// the graph (~0.4 s), and a process that never authenticates mail (a test, an API-only node
// without e-mail) need not pay for it.
let mailauthModule: Promise<typeof Mailauth> | null = null;
const loadMailauth = () => (mailauthModule ??= import('mailauth'));

/** What one inbound e-mail offers to authenticate it. */
export interface AuthenticationInput {
  /** The raw RFC 5322 message, when we have it (raw webhook, IMAP, SMTP). */
  raw?: Buffer | undefined;
  /** The SMTP session of our own listener: SPF is checked against it. */
  envelope?: SmtpEnvelope | undefined;
  /**
   * Without an envelope, the client address and HELO are read from the topmost Received header
   * (written by the MTA that took the mail from the sender: the mailbox provider for IMAP, the
   * relaying MTA for the raw webhook).
   */
  trustReceived?: boolean | undefined;
  /** Headers a provider posted beside a parsed message (Mailgun's message-headers), in order. */
  providerHeaders?: readonly [string, string][] | undefined;
  /** The address the message's first From names (the sender intake resolved). */
  fromAddress?: string | undefined;
}

export interface SenderAuthenticator {
  authenticate(input: AuthenticationInput): Promise<SenderAuthentication>;
}

export interface SenderAuthOptions {
  trustedAuthservIds: readonly string[];
  dnsServers: readonly string[];
  dnsTimeoutMs: number;
  dnsCacheTtlMs: number;
  /** Our own name in Received-SPF / Authentication-Results (mailauth's mta). */
  mta?: string | undefined;
  logger?: Logger | undefined;
  /** Tests: a resolver of their own. */
  resolver?: DnsResolver | undefined;
}

/**
 * SPF, DKIM, DMARC and ARC for every inbound e-mail, through mailauth (postalsys: maintained,
 * the checks the Zone/WildDuck mail servers run). Results a provider or a trusted relay already
 * computed are used as they are: they saw the SMTP session, we did not. Never throws: a check
 * that cannot run decides nothing (verdict unknown) and the mail is taken in as before.
 */
export function createSenderAuthenticator(options: SenderAuthOptions): SenderAuthenticator {
  const resolver: DnsResolver =
    options.resolver ?? createCachedResolver({ servers: options.dnsServers, timeoutMs: options.dnsTimeoutMs, ttlMs: options.dnsCacheTtlMs });
  const mta = options.mta ?? 'complaint-desk';

  async function local(input: AuthenticationInput & { raw: Buffer }, fromDomain: string | null): Promise<AuthenticationFacts> {
    const { authenticate } = await loadMailauth();
    const result: AuthenticateResult = await authenticate(input.raw, {
      resolver,
      mta,
      disableBimi: true,
      ...(input.envelope
        ? { ip: input.envelope.ip, helo: input.envelope.helo, sender: input.envelope.mailFrom }
        : { trustReceived: input.trustReceived ?? false }),
    });
    // SPF needs the client address: without an envelope or a Received header naming one, there
    // is nothing to check (mailauth would test "postmaster@undefined").
    const spfChecked = result.spf && (input.envelope || (result.spf as { 'client-ip'?: string })['client-ip']);
    const headerFrom = result.dkim.headerFrom?.[0];
    const domain = domainOf(headerFrom) ?? fromDomain;
    return {
      source: 'local',
      fromDomain: domain,
      spf: spfChecked && result.spf ? { result: authResult(result.spf.status.result), domain: result.spf.domain ?? null } : { result: 'none' },
      dkim: (result.dkim.results ?? []).map((r) => ({ result: authResult(r.status.result), domain: (r.signingDomain ?? '').toLowerCase(), aligned: Boolean(r.status.aligned) })),
      dmarc: result.dmarc ? { result: authResult(result.dmarc.status.result), policy: result.dmarc.policy ?? null, domain: result.dmarc.domain ?? null } : null,
      arc: result.arc ? { result: authResult(result.arc.status.result) } : null,
    };
  }

  /**
   * Mailgun reports SPF (for the envelope sender) and whether the DKIM signature verified, not
   * DMARC: alignment and the From domain's policy are evaluated here on those results.
   */
  async function mailgun(headers: readonly [string, string][], fromDomain: string | null): Promise<AuthenticationFacts | null> {
    const get = (name: string) => headers.find(([k]) => k.toLowerCase() === name)?.[1];
    const spfHeader = get('x-mailgun-spf');
    const dkimHeader = get('x-mailgun-dkim-check-result');
    if (spfHeader === undefined && dkimHeader === undefined) return null;
    const envelopeDomain = domainOf(get('x-envelope-from') ?? get('return-path') ?? get('sender') ?? null);
    const spf = authResult(spfHeader);
    const dkimResult = authResult(dkimHeader);
    const signers = headers
      .filter(([k]) => k.toLowerCase() === 'dkim-signature')
      .map(([, v]) => /(?:^|;)\s*d=([^;\s]+)/i.exec(v)?.[1]?.toLowerCase())
      .filter((d): d is string => Boolean(d));
    const dkim = dkimHeader === undefined ? [] : (signers.length ? signers : ['']).map((domain) => ({ result: dkimResult, domain }));
    let dmarcFacts: AuthenticationFacts['dmarc'] = null;
    if (fromDomain) {
      const { dmarc } = await loadMailauth();
      const evaluated = await dmarc({
        headerFrom: fromDomain,
        spfDomains: spf === 'pass' && envelopeDomain ? [envelopeDomain] : [],
        dkimDomains: dkim.filter((d) => d.result === 'pass' && d.domain).map((d) => ({ domain: d.domain })),
        resolver,
      });
      if (evaluated) dmarcFacts = { result: authResult(evaluated.status.result), policy: evaluated.policy ?? null, domain: evaluated.domain ?? null };
    }
    return { source: 'provider', authservId: 'mailgun', fromDomain, spf: { result: spf, domain: envelopeDomain }, dkim, dmarc: dmarcFacts, arc: null };
  }

  return {
    async authenticate(input) {
      const fromDomain = domainOf(input.fromAddress);
      try {
        const headers = input.providerHeaders ?? [];
        const listed = input.raw ? headerLinesOf(input.raw) : headers.map(([key, value]) => ({ key: key.toLowerCase(), value }));
        const relay = trustedAuthResults(listed, options.trustedAuthservIds);
        if (relay) return judged(factsFromAuthResults(relay, fromDomain));
        if (input.raw) return judged(await local({ ...input, raw: input.raw }, fromDomain));
        const provided = await mailgun(headers, fromDomain);
        if (provided) return judged(provided);
        return { source: 'none', fromDomain, spf: { result: 'none' }, dkim: [], dmarc: null, arc: null, verdict: 'unknown', reason: null };
      } catch (error) {
        options.logger?.warn({ err: error instanceof Error ? error.message : String(error) }, 'sender authentication could not run');
        return {
          source: 'none',
          fromDomain,
          spf: { result: 'temperror' },
          dkim: [],
          dmarc: null,
          arc: null,
          verdict: 'unknown',
          reason: `authentication could not run: ${error instanceof Error ? error.message.slice(0, 200) : 'error'}`,
        };
      }
    },
  };
}
