import { describe, expect, it } from 'vitest';
import {
  aligned,
  headerLinesOf,
  parseAuthenticationResults,
  trustedAuthResults,
  verdictOf,
  type AuthenticationFacts,
} from '../../../src/domain/mail/sender-verdict.js';

const facts = (over: Partial<AuthenticationFacts>): AuthenticationFacts => ({
  source: 'local',
  fromDomain: 'bank.example',
  spf: { result: 'none' },
  dkim: [],
  dmarc: null,
  arc: null,
  ...over,
});

describe('verdictOf', () => {
  it('follows DMARC where the domain publishes it', () => {
    expect(verdictOf(facts({ dmarc: { result: 'pass' } })).verdict).toBe('pass');
    const failed = verdictOf(facts({ dmarc: { result: 'fail', policy: 'reject' }, spf: { result: 'fail', domain: 'bank.example' } }));
    expect(failed.verdict).toBe('fail');
    expect(failed.reason).toContain('DMARC fail for bank.example (p=reject)');
    expect(failed.reason).toContain('SPF fail');
  });

  it('without DMARC: SPF fail and no valid DKIM is a failure; a passing aligned signature or SPF is not', () => {
    expect(verdictOf(facts({ spf: { result: 'fail' } })).verdict).toBe('fail');
    expect(verdictOf(facts({ spf: { result: 'softfail' }, dkim: [{ result: 'fail', domain: 'bank.example' }] })).verdict).toBe('fail');
    expect(verdictOf(facts({ spf: { result: 'fail' }, dkim: [{ result: 'pass', domain: 'bank.example', aligned: true }] })).verdict).toBe('pass');
    expect(verdictOf(facts({ spf: { result: 'pass' } })).verdict).toBe('pass');
  });

  it('decides nothing on DNS errors or missing data', () => {
    expect(verdictOf(facts({ dmarc: { result: 'temperror' } })).verdict).toBe('unknown');
    expect(verdictOf(facts({ spf: { result: 'none' } })).verdict).toBe('unknown');
    expect(verdictOf(facts({ spf: { result: 'neutral' } })).verdict).toBe('unknown');
  });
});

describe('Authentication-Results', () => {
  it('parses methods, results and properties, ignoring comments', () => {
    const parsed = parseAuthenticationResults(
      'mx.google.com; dkim=pass header.i=@bank.example header.s=sel (good signature); spf=softfail (google.com: domain of transitioning x@y) smtp.mailfrom=x@bank.example; dmarc=fail (p=REJECT sp=REJECT dis=NONE) header.from=bank.example',
    );
    expect(parsed?.authservId).toBe('mx.google.com');
    expect(parsed?.methods.map((m) => [m.method, m.result])).toEqual([
      ['dkim', 'pass'],
      ['spf', 'softfail'],
      ['dmarc', 'fail'],
    ]);
    expect(parsed?.methods[1]?.props['smtp.mailfrom']).toBe('x@bank.example');
  });

  it('believes only the topmost header of a trusted relay', () => {
    const raw = Buffer.from(
      'Authentication-Results: mx.trusted.example; dmarc=fail header.from=bank.example\r\nAuthentication-Results: mx.trusted.example;\r\n dmarc=pass header.from=bank.example\r\nFrom: a@bank.example\r\n\r\nbody',
    );
    const headers = headerLinesOf(raw);
    expect(headers.filter((h) => h.key === 'authentication-results')).toHaveLength(2);
    expect(trustedAuthResults(headers, ['mx.trusted.example'])?.methods[0]?.result).toBe('fail');
    expect(trustedAuthResults(headers, ['other.example'])).toBeNull();
    expect(trustedAuthResults(headers, [])).toBeNull();
  });

  it("reads Microsoft 365's header without an authserv-id, trusted only when '-' is listed", () => {
    const raw = Buffer.from('Authentication-Results: spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=bank.example; dkim=pass (signature was verified) header.d=bank.example;dmarc=pass action=none header.from=bank.example;compauth=pass reason=100\r\nFrom: a@bank.example\r\n\r\nx');
    const headers = headerLinesOf(raw);
    expect(trustedAuthResults(headers, ['-'])?.methods.map((m) => m.method)).toEqual(['spf', 'dkim', 'dmarc', 'compauth']);
    expect(trustedAuthResults(headers, ['mx.google.com'])).toBeNull();
  });

  it('aligns a signer with the From domain relaxed', () => {
    expect(aligned('mail.bank.example', 'bank.example')).toBe(true);
    expect(aligned('bank.example', 'bank.example')).toBe(true);
    expect(aligned('evil.example', 'bank.example')).toBe(false);
  });
});
