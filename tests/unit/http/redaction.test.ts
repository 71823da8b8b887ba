import { describe, expect, it } from 'vitest';
import { configuredSecrets, createLineScrubber, redactUrl, SECRET_SETTINGS } from '../../../src/shared/logger.js';

describe('redactUrl', () => {
  it.each([
    ['/webhooks/facebook?hub.mode=subscribe&hub.verify_token=s3cr3t&hub.challenge=42', '/webhooks/facebook?hub.mode=subscribe&hub.verify_token=[redacted]&hub.challenge=42'],
    ['/webhooks/twitter?crc_token=abc', '/webhooks/twitter?crc_token=[redacted]'],
    ['/x?access_token=a&api_key=b&signature=c&Password=d&limit=5', '/x?access_token=[redacted]&api_key=[redacted]&signature=[redacted]&Password=[redacted]&limit=5'],
    ['/v1/csat/Zm9vYmFyYmF6', '/v1/csat/[redacted]'],
    ['/v1/csat/Zm9vYmFy?score=5', '/v1/csat/[redacted]?score=5'],
    ['/v1/tickets?limit=5&cursor=eyJ2IjoxfQ', '/v1/tickets?limit=5&cursor=eyJ2IjoxfQ'],
  ])('%s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it('stays linear on hostile input', () => {
    const hostile = `/x?${'token'.repeat(20_000)}`;
    expect(redactUrl(hostile)).toBe(hostile);
  });
});

describe('createLineScrubber', () => {
  it('censors configured secrets wherever they appear, and URL secrets inside JSON lines', () => {
    const scrub = createLineScrubber(['smtp://u:longpassword@h', 'a-very-secret-key', 'short']);
    const line = JSON.stringify({ msg: 'failed a-very-secret-key', req: { url: '/w?hub.verify_token=zzz' }, note: 'short' });
    const out = scrub(line);
    expect(out).not.toContain('a-very-secret-key');
    expect(out).not.toContain('zzz');
    // Values shorter than 8 characters would censor ordinary words: config requires longer ones.
    expect(out).toContain('short');
    expect(JSON.parse(out)).toMatchObject({ req: { url: '/w?hub.verify_token=[redacted]' } });
  });

  it('takes the values of the secret settings that are set', () => {
    expect(configuredSecrets({ ADMIN_API_KEY: 'x'.repeat(16), TWILIO_AUTH_TOKEN: undefined, MAILGUN_SIGNING_KEY: '' })).toEqual(['x'.repeat(16)]);
    expect(SECRET_SETTINGS).toContain('FACEBOOK_VERIFY_TOKEN');
  });

  it('takes the password of every URL setting, as written and percent-decoded', () => {
    const secrets = configuredSecrets({
      DATABASE_URL: 'postgres://desk:db-pass%2Fword-1@db:5432/desk',
      REDIS_URL: 'redis://:redis-password-22@cache:6379',
      SMTP_URL: 'smtp://mailer:smtp-pass-333@mail:587',
      PUBLIC_BASE_URL: 'https://desk.example.com',
    });
    expect(secrets).toEqual(expect.arrayContaining(['db-pass%2Fword-1', 'db-pass/word-1', 'redis-password-22', 'smtp-pass-333']));
    expect(secrets).not.toContain('');
  });

  it('censors the password of any URL in a line, whatever its length, and the literal passwords elsewhere', () => {
    const env = { DATABASE_URL: 'postgres://desk:db-pass%2Fword-1@db:5432/desk', REDIS_URL: 'redis://:pw@cache:6379' };
    const scrub = createLineScrubber(configuredSecrets(env));
    const out = scrub(
      JSON.stringify({ msg: `connecting to ${env.DATABASE_URL} and ${env.REDIS_URL}`, other: 'amqp://guest:guest@rabbit/', err: { message: 'auth failed for db-pass/word-1' } }),
    );
    expect(out).not.toContain('db-pass');
    expect(out).not.toContain(':pw@');
    expect(out).not.toContain('guest@');
    expect(out).toContain('postgres://desk:[redacted]@db:5432/desk');
    expect(out).toContain('redis://:[redacted]@cache:6379');
    // URLs without a password, and stack frames, are left alone.
    const plain = JSON.stringify({ msg: 'https://desk.example.com:8443/x@y', stack: 'at file:///app/dist/main.js:12:3' });
    expect(scrub(plain)).toBe(plain);
  });

  it('stays linear on a hostile line of URL fragments', () => {
    const hostile = 'a://'.repeat(50_000) + ':'.repeat(50_000);
    expect(createLineScrubber([])(hostile)).toBe(hostile);
  });
});
