import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

/** The problems loadConfig reports for this environment (fails the test when it accepts it). */
function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/^Invalid configuration:/);
    return (error as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('loadConfig', () => {
  it('fills in defaults from an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      PORT: 3000,
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/complaint_desk',
      DATABASE_POOL_MAX: 30,
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: 'cd',
      LOG_LEVEL: 'info',
      LOG_PRETTY: false,
      ROLE: 'all',
      RATE_LIMIT_PER_MINUTE: 1200,
      SHUTDOWN_GRACE_SEC: 25,
      BODY_LIMIT_BYTES: 1_048_576,
      DEFAULT_PHONE_REGION: 'IL',
      CROSS_CHANNEL_MERGE_HOURS: 72,
    });
    expect(config.ADMIN_API_KEY).toBeUndefined();
    expect(config.PUBLIC_BASE_URL).toBeUndefined();
    expect(config.FACEBOOK_APP_SECRET).toBeUndefined();
  });

  it('reads and coerces what is set', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      ROLE: 'worker',
      LOG_PRETTY: 'yes',
      RATE_LIMIT_PER_MINUTE: '0',
      BODY_LIMIT_BYTES: '2048',
      ADMIN_API_KEY: 'a-secret-of-sixteen+',
      PUBLIC_BASE_URL: 'https://desk.example.com',
      DEFAULT_PHONE_REGION: 'PL',
      CROSS_CHANNEL_MERGE_HOURS: '0.5',
    });
    expect(config).toMatchObject({
      NODE_ENV: 'production',
      PORT: 8080,
      ROLE: 'worker',
      LOG_PRETTY: true,
      RATE_LIMIT_PER_MINUTE: 0,
      BODY_LIMIT_BYTES: 2048,
      ADMIN_API_KEY: 'a-secret-of-sixteen+',
      PUBLIC_BASE_URL: 'https://desk.example.com',
      DEFAULT_PHONE_REGION: 'PL',
      CROSS_CHANNEL_MERGE_HOURS: 0.5,
    });
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['no', false],
  ])('LOG_PRETTY=%s is %s', (value, expected) => {
    expect(loadConfig({ LOG_PRETTY: value }).LOG_PRETTY).toBe(expected);
  });

  it('turns empty optional secrets and URLs into undefined', () => {
    const config = loadConfig({
      ADMIN_API_KEY: '',
      FACEBOOK_APP_SECRET: '',
      FACEBOOK_APP_ID: '',
      FACEBOOK_VERIFY_TOKEN: '',
      FACEBOOK_PAGE_ACCESS_TOKEN: '',
      TWITTER_CONSUMER_SECRET: '',
      TWILIO_AUTH_TOKEN: '',
      MAILGUN_SIGNING_KEY: '',
      PUBLIC_BASE_URL: '',
    });
    for (const key of [
      'ADMIN_API_KEY',
      'FACEBOOK_APP_SECRET',
      'FACEBOOK_APP_ID',
      'FACEBOOK_VERIFY_TOKEN',
      'FACEBOOK_PAGE_ACCESS_TOKEN',
      'TWITTER_CONSUMER_SECRET',
      'TWILIO_AUTH_TOKEN',
      'MAILGUN_SIGNING_KEY',
      'PUBLIC_BASE_URL',
    ] as const) {
      expect(config[key], key).toBeUndefined();
    }
  });

  it.each([
    ['PORT', 'http'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['DATABASE_URL', 'not a url'],
    ['DATABASE_URL', '://no-scheme'],
    ['REDIS_URL', 'redis'],
    ['ROLE', 'scheduler'],
    ['NODE_ENV', 'staging'],
    ['LOG_LEVEL', 'verbose'],
    ['LOG_PRETTY', 'maybe'],
    ['QUEUE_PREFIX', 'has spaces'],
    ['QUEUE_PREFIX', 'colon:prefix'],
    ['DATABASE_POOL_MAX', '0'],
    ['BODY_LIMIT_BYTES', 'lots'],
    ['RATE_LIMIT_PER_MINUTE', '-5'],
    ['DEFAULT_PHONE_REGION', 'il'],
    ['DEFAULT_PHONE_REGION', 'ISR'],
    ['PUBLIC_BASE_URL', 'desk.example.com'],
    ['CROSS_CHANNEL_MERGE_HOURS', '-1'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.startsWith(`${name}: `), problems[0]).toBe(true);
  });

  it('refuses an ADMIN_API_KEY shorter than 16 characters, saying so', () => {
    const problems = problemsOf({ ADMIN_API_KEY: 'short-secret' });
    expect(problems).toEqual(['ADMIN_API_KEY: must be at least 16 characters']);
    expect(loadConfig({ ADMIN_API_KEY: 'x'.repeat(16) }).ADMIN_API_KEY).toBe('x'.repeat(16));
  });

  it('reports every bad variable at once, each by name', () => {
    const problems = problemsOf({ PORT: 'abc', DATABASE_URL: 'nope', ROLE: 'boss', ADMIN_API_KEY: 'tiny' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['ADMIN_API_KEY', 'DATABASE_URL', 'PORT', 'ROLE']);
    // The message lists them too, one per line.
    try {
      loadConfig({ PORT: 'abc', ROLE: 'boss' });
    } catch (error) {
      expect((error as Error).message.split('\n')).toHaveLength(3);
    }
  });

  it('ignores variables it does not know', () => {
    expect(() => loadConfig({ PATH: '/usr/bin', HOME: '/root', SOMETHING_ELSE: 'x' })).not.toThrow();
  });

  it('in production, refuses any secret setting shorter than 16 characters, naming it (not its value)', () => {
    const problems = problemsOf({ NODE_ENV: 'production', TWILIO_AUTH_TOKEN: '12345', FACEBOOK_VERIFY_TOKEN: 'vt-short-1', MAILGUN_SIGNING_KEY: 'k'.repeat(16) });
    expect(problems.sort()).toEqual([
      'FACEBOOK_VERIFY_TOKEN: must be at least 16 characters when NODE_ENV=production',
      'TWILIO_AUTH_TOKEN: must be at least 16 characters when NODE_ENV=production',
    ]);
    expect(problems.join('\n')).not.toContain('vt-short-1');
    // Development and tests may keep short ones (the test helpers' fixed provider secrets are).
    expect(loadConfig({ NODE_ENV: 'test', TWILIO_AUTH_TOKEN: '12345' }).TWILIO_AUTH_TOKEN).toBe('12345');
    expect(loadConfig({ NODE_ENV: 'production', TWILIO_AUTH_TOKEN: 't'.repeat(32) }).TWILIO_AUTH_TOKEN).toBe('t'.repeat(32));
  });

  it('does not echo secrets in its problems', () => {
    const problems = problemsOf({ ADMIN_API_KEY: 'leaky-secret', PORT: 'x' });
    expect(problems.join('\n')).not.toContain('leaky-secret');
  });
});
