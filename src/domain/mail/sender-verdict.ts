/**
 * Whether an e-mail's From can be believed, from its SPF, DKIM and DMARC results. Pure: the
 * results come from mailauth (our own checks) or from a provider we trust (Mailgun's headers,
 * an Authentication-Results header of a listed relay); this file only reads and judges them.
 */

export type AuthResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy' | 'skipped';

export interface SenderAuthentication {
  /** local: checked by us (mailauth); provider: read from a provider or trusted relay; none: nothing to check with. */
  source: 'local' | 'provider' | 'none';
  /** The relay whose Authentication-Results were used (source provider), or "mailgun". */
  authservId?: string | undefined;
  fromDomain: string | null;
  spf: { result: AuthResult; domain?: string | null | undefined };
  dkim: { result: AuthResult; domain: string; aligned?: boolean | undefined }[];
  /** null: not evaluated (no From domain, or the provider gave no DMARC result). */
  dmarc: { result: AuthResult; policy?: string | null | undefined; domain?: string | null | undefined } | null;
  arc: { result: AuthResult } | null;
  /** fail: the From cannot be believed (see verdictOf); unknown: nothing decisive either way. */
  verdict: 'pass' | 'fail' | 'unknown';
  /** Why, in words an agent reads ("DMARC fail for example.com (p=reject)…"); null on pass. */
  reason: string | null;
}

export type AuthenticationFacts = Omit<SenderAuthentication, 'verdict' | 'reason'>;

const RESULTS: readonly AuthResult[] = ['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy', 'skipped'];

export function authResult(value: string | undefined | null): AuthResult {
  const v = (value ?? '').trim().toLowerCase();
  if (v === 'temperr') return 'temperror';
  if (v === 'permerr') return 'permerror';
  if (v === 'hardfail') return 'fail';
  return (RESULTS as readonly string[]).includes(v) ? (v as AuthResult) : 'none';
}

/**
 * The rule of issue 19. A message whose From domain publishes DMARC is judged by DMARC alone:
 * fail means the From is not the domain's (SPF and DKIM neither pass aligned). Without a DMARC
 * record, a message that fails SPF (fail or softfail) and has no passing DKIM signature is
 * judged forged too. Temporary and permanent DNS errors decide nothing (unknown): a flaky
 * resolver must not split real customers off their tickets.
 */
export function verdictOf(facts: AuthenticationFacts): Pick<SenderAuthentication, 'verdict' | 'reason'> {
  const domain = facts.fromDomain ?? 'the From domain';
  const dkimPass = facts.dkim.filter((d) => d.result === 'pass');
  const describe = () => `SPF ${facts.spf.result}${facts.spf.domain ? ` (${facts.spf.domain})` : ''}, DKIM ${dkimPass.length ? `pass (${dkimPass.map((d) => d.domain).join(', ')})` : facts.dkim.length ? `${facts.dkim[0]!.result} (${facts.dkim[0]!.domain})` : 'none'}`;
  const via = facts.source === 'provider' ? ` (as reported by ${facts.authservId ?? 'the provider'})` : '';
  const dmarc = facts.dmarc?.result;
  if (dmarc === 'pass') return { verdict: 'pass', reason: null };
  if (dmarc === 'fail') {
    const policy = facts.dmarc?.policy ? ` (p=${facts.dmarc.policy})` : '';
    return { verdict: 'fail', reason: `DMARC fail for ${domain}${policy}: ${describe()}${via}` };
  }
  if (dmarc === 'temperror' || dmarc === 'permerror') return { verdict: 'unknown', reason: `DMARC ${dmarc} for ${domain}${via}` };
  // No DMARC record (or the provider did not evaluate DMARC): SPF and DKIM themselves.
  const spfFailed = facts.spf.result === 'fail' || facts.spf.result === 'softfail';
  if (dkimPass.some((d) => d.aligned !== false)) return { verdict: 'pass', reason: null };
  if (facts.spf.result === 'pass') return { verdict: 'pass', reason: null };
  if (spfFailed && dkimPass.length === 0) {
    return { verdict: 'fail', reason: `SPF ${facts.spf.result} and no valid DKIM signature for ${domain}, which publishes no DMARC record: ${describe()}${via}` };
  }
  return { verdict: 'unknown', reason: null };
}

export function judged(facts: AuthenticationFacts): SenderAuthentication {
  return { ...facts, ...verdictOf(facts) };
}

/** The domain of an address ("Dana <dana@Example.com>" → "example.com"). */
export function domainOf(address: string | null | undefined): string | null {
  if (!address) return null;
  const at = address.lastIndexOf('@');
  if (at < 0) return null;
  const domain = address.slice(at + 1).replace(/[>\s].*$/, '').trim().toLowerCase().replace(/\.$/, '');
  return domain || null;
}

/**
 * One Authentication-Results header (RFC 8601), read leniently: the authserv-id, then
 * "method=result" with their properties (header.from, header.d, smtp.mailfrom, policy…).
 * Comments in parentheses are dropped first.
 */
export interface ParsedAuthResults {
  authservId: string;
  methods: { method: string; result: AuthResult; props: Record<string, string> }[];
}

export function parseAuthenticationResults(value: string): ParsedAuthResults | null {
  const text = stripComments(value).replace(/\s+/g, ' ').trim();
  const parts = text.split(';').map((p) => p.trim());
  const head = parts[0];
  if (!head) return null;
  const first = head.split(' ')[0]!.toLowerCase();
  // Microsoft 365 writes no authserv-id ("spf=pass (sender IP is …) smtp.mailfrom=…; dkim=…"):
  // such a header has the id "" (trusted as "-" in TRUSTED_AUTHSERV_IDS).
  const authservId = first.includes('=') ? '' : first;
  if (authservId) parts.shift();
  const methods: ParsedAuthResults['methods'] = [];
  for (const part of parts) {
    const tokens = part.split(' ').filter(Boolean);
    const first = tokens.shift();
    if (!first || !first.includes('=')) continue;
    const [method, result] = first.split('=') as [string, string];
    const props: Record<string, string> = {};
    for (const token of tokens) {
      const eq = token.indexOf('=');
      if (eq > 0) props[token.slice(0, eq).toLowerCase()] = token.slice(eq + 1).replace(/^"|"$/g, '');
    }
    methods.push({ method: method.toLowerCase().replace(/\/.*$/, ''), result: authResult(result), props });
  }
  return { authservId, methods };
}

/** Linear: one pass, nesting counted (RFC 5322 comments nest). */
function stripComments(value: string): string {
  let depth = 0;
  let out = '';
  for (const c of value.slice(0, 20_000)) {
    if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

/** The facts one trusted Authentication-Results header states. */
export function factsFromAuthResults(parsed: ParsedAuthResults, fromDomain: string | null): AuthenticationFacts {
  const pick = (name: string) => parsed.methods.filter((m) => m.method === name);
  const spf = pick('spf')[0];
  const dmarc = pick('dmarc')[0];
  const arc = pick('arc')[0];
  const dmarcDomain = dmarc?.props['header.from'] ?? null;
  return {
    source: 'provider',
    authservId: parsed.authservId,
    fromDomain,
    spf: { result: spf?.result ?? 'none', domain: domainOf(spf?.props['smtp.mailfrom'] ?? null) ?? spf?.props['smtp.helo'] ?? null },
    dkim: pick('dkim').map((d) => {
      const signer = (d.props['header.d'] ?? domainOf(d.props['header.i'] ?? null) ?? '').toLowerCase();
      return { result: d.result, domain: signer, aligned: fromDomain ? aligned(signer, fromDomain) : undefined };
    }),
    dmarc: dmarc ? { result: dmarc.result, policy: dmarc.props['policy.published-domain-policy'] ?? dmarc.props['p'] ?? null, domain: dmarcDomain } : null,
    arc: arc ? { result: arc.result } : null,
  };
}

/** Relaxed alignment, approximated without the public suffix list: same domain or a subdomain either way. */
export function aligned(signer: string, fromDomain: string): boolean {
  const a = signer.toLowerCase();
  const b = fromDomain.toLowerCase();
  return a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);
}

/**
 * Header lines of a raw message (up to the first empty line), unfolded, in order, with their
 * names lower-cased. Bounded: at most the first 256 KB are read.
 */
export function headerLinesOf(raw: Buffer): { key: string; value: string }[] {
  const head = raw.subarray(0, 262_144).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  const block = end < 0 ? head : head.slice(0, end);
  const lines: { key: string; value: string }[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && lines.length) {
      lines[lines.length - 1]!.value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    lines.push({ key: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return lines;
}

/**
 * The topmost Authentication-Results header written by a trusted relay, if any. Relays prepend
 * theirs, so a forged one (written by the sender, further down) never comes before the real
 * one; only the first trusted header counts.
 */
export function trustedAuthResults(headers: readonly { key: string; value: string }[], trusted: readonly string[]): ParsedAuthResults | null {
  if (trusted.length === 0) return null;
  const ids = new Set(trusted.map((t) => (t === '-' ? '' : t.toLowerCase())));
  for (const h of headers) {
    if (h.key !== 'authentication-results') continue;
    const parsed = parseAuthenticationResults(h.value);
    if (parsed && ids.has(parsed.authservId)) return parsed;
  }
  return null;
}
