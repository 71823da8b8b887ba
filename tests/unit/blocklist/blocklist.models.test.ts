import { describe, expect, it } from 'vitest';
import { blockKeysFor, normalizeBlockValue } from '../../../src/modules/blocklist/blocklist.models.js';

describe('normalizeBlockValue', () => {
  it('stores values the way intake stores senders', () => {
    expect(normalizeBlockValue('email', ' Spam@Example.COM ', 'IL')).toEqual({ value: 'spam@example.com' });
    expect(normalizeBlockValue('domain', '@Mail.Example.com.', 'IL')).toEqual({ value: 'mail.example.com' });
    expect(normalizeBlockValue('phone', '050-123-4567', 'IL')).toEqual({ value: '+972501234567' });
    expect(normalizeBlockValue('facebook', '105320418834911:7066489083426785', 'IL')).toEqual({ value: '105320418834911:7066489083426785' });
    expect(normalizeBlockValue('twitter', '1205290247124217856', 'IL')).toEqual({ value: '1205290247124217856' });
  });

  it('explains what is wrong with a value that is not of its kind', () => {
    for (const [kind, value] of [['email', 'nope'], ['domain', 'com'], ['domain', 'a..b'], ['phone', '4471'], ['facebook', '7066489083426785'], ['twitter', '@someone']] as const) {
      expect(normalizeBlockValue(kind, value, 'IL'), `${kind} ${value}`).toHaveProperty('error');
    }
  });
});

describe('blockKeysFor', () => {
  it('matches an e-mail sender by address, by its domain and by each parent domain of two labels or more', () => {
    expect(blockKeysFor({ kind: 'email', address: 'a@eu.mail.example.com' })).toEqual([
      { kind: 'email', value: 'a@eu.mail.example.com' },
      { kind: 'domain', value: 'eu.mail.example.com' },
      { kind: 'domain', value: 'mail.example.com' },
      { kind: 'domain', value: 'example.com' },
    ]);
  });

  it('matches other senders by their identity only', () => {
    expect(blockKeysFor({ kind: 'phone', address: '+972501234567' })).toEqual([{ kind: 'phone', value: '+972501234567' }]);
    expect(blockKeysFor({ kind: 'twitter', address: '42' })).toEqual([{ kind: 'twitter', value: '42' }]);
  });
});
