import { describe, expect, it } from 'vitest';
import { signedWith, type InboundRequest } from '../../../src/channels/channel.adapter.js';
import { loadConfig } from '../../../src/config.js';

const request: InboundRequest = { rawBody: Buffer.from('{}'), contentType: 'application/json', headers: {}, publicUrl: 'https://desk.example/webhooks/x', receivedAt: new Date() };
const configWith = (env: Record<string, string>) => loadConfig({ DATABASE_URL: 'postgres://unused', REDIS_URL: 'redis://unused', ...env });

describe('signedWith', () => {
  it('names the setting it checks, and is off while that setting is unset', async () => {
    const declared = signedWith(configWith({}), 'FACEBOOK_APP_SECRET', () => true);
    expect(declared).toMatchObject({ requiredSetting: 'FACEBOOK_APP_SECRET', configured: false, auth: { kind: 'signature' } });
    // Even a verifier that would say yes never runs without its secret.
    expect(declared.auth.kind === 'signature' && (await declared.auth.verify(request))).toBe(false);
  });

  it('hands verify the configured secret, and keeps a replay token when given one', async () => {
    const seen: string[] = [];
    const replayToken = async () => ({ token: 't', contentDigest: 'd', expiresAt: new Date() });
    const declared = signedWith(configWith({ MAILGUN_SIGNING_KEY: 'key-1' }), 'MAILGUN_SIGNING_KEY', async (_request, key) => (seen.push(key), key === 'key-1'), replayToken);
    expect(declared.configured).toBe(true);
    if (declared.auth.kind !== 'signature') throw new Error('expected a signature adapter');
    expect(await declared.auth.verify(request)).toBe(true);
    expect(seen).toEqual(['key-1']);
    expect(declared.auth.replayToken).toBe(replayToken);
  });
});
