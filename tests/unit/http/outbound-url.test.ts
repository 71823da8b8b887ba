import { describe, expect, it } from 'vitest';
import { assertOutboundUrl, checkOutboundUrlShape, forbiddenAddressReason, OutboundUrlError } from '../../../src/shared/outbound-url.js';

const strict = { allowPrivate: false, allowHttp: false };

describe('forbiddenAddressReason', () => {
  it.each([
    '127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '224.0.0.1', '255.255.255.255', '192.0.0.1', '198.18.0.1',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1',
    // IPv4 inside IPv6: mapped, the old compatible form, NAT64, and tunnels.
    '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::ffff:127.0.0.1', '::169.254.169.254', '::7f00:1', '::a9fe:a9fe', '::a00:1', '::0:1', '64:ff9b::a9fe:a9fe', '64:ff9b::7f00:1', '2002:a9fe:a9fe::1', '2001::1',
  ])('refuses %s', (address) => {
    expect(forbiddenAddressReason(address)).toEqual(expect.any(String));
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])('allows public unicast %s', (address) => {
    expect(forbiddenAddressReason(address)).toBeNull();
  });
});

describe('checkOutboundUrlShape', () => {
  it.each([
    ['http://169.254.169.254/latest/meta-data/', /https/],
    ['https://169.254.169.254/latest/meta-data/', /linkLocal/],
    ['https://[::ffff:169.254.169.254]/', /linkLocal/],
    // IPv4-compatible (::/96): the URL parser normalises these to [::7f00:1] and [::a9fe:a9fe].
    ['https://[::127.0.0.1]/', /loopback/],
    ['https://[::169.254.169.254]/', /linkLocal/],
    ['https://0.0.0.0:6379/', /unspecified/],
    ['https://0x7f.1/', /loopback/],
    ['https://2130706433/', /loopback/],
    ['https://[::1]:8080/', /loopback/],
    ['https://user:secret@example.com/', /credentials/],
    ['ftp://example.com/', /https/],
    ['not a url', /not a URL/],
  ])('refuses %s', (url, reason) => {
    expect(() => checkOutboundUrlShape(url, strict)).toThrow(reason);
  });

  it('allows http and private addresses only when told to', () => {
    expect(checkOutboundUrlShape('http://127.0.0.1:9/x', { allowPrivate: true, allowHttp: true }).port).toBe('9');
    expect(() => checkOutboundUrlShape('http://127.0.0.1:9/x', { allowPrivate: true, allowHttp: false })).toThrow(OutboundUrlError);
    expect(() => checkOutboundUrlShape('https://127.0.0.1:9/x', { allowPrivate: false, allowHttp: true })).toThrow(OutboundUrlError);
  });
});

describe('assertOutboundUrl', () => {
  it('judges every address a name resolves to', async () => {
    const resolveTo = (...addresses: string[]) => async () => addresses.map((address) => ({ address }));
    await expect(assertOutboundUrl('https://hooks.example.com/x', strict, resolveTo('93.184.215.14'))).resolves.toBeInstanceOf(URL);
    await expect(assertOutboundUrl('https://hooks.example.com/x', strict, resolveTo('93.184.215.14', '10.0.0.7'))).rejects.toThrow(/private/);
    await expect(assertOutboundUrl('https://hooks.example.com/x', strict, resolveTo('::ffff:127.0.0.1'))).rejects.toThrow(/loopback/);
    await expect(assertOutboundUrl('https://nowhere.invalid/x', strict, async () => Promise.reject(new Error('ENOTFOUND')))).rejects.toThrow(/does not resolve/);
  });

  it('resolves real names: localhost is loopback', async () => {
    await expect(assertOutboundUrl('https://localhost:8443/x', strict)).rejects.toThrow(/loopback/);
  });
});
