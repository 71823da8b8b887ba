import { describe, expect, it } from 'vitest';
import {
  extractTicketNumber,
  normalizeMessageIds,
  stripReplyPrefixes,
} from '../../../../src/channels/email/email.threading.js';

describe('extractTicketNumber', () => {
  it.each([
    ['Re: [#1042] Reklamacja', 1042],
    ['AW: Ticket Templates [Ticket#11168]', 11168],
    ['[ticket #7] lowercase hook', 7],
    ['[# 1234] spaced', 1234],
    ['[ #1234 ] padded', 1234],
    ['תשובה אוטומטית: [#1043] קיבלנו את פנייתך', 1043],
    ['[#12] first wins over [#34]', 12],
  ])('%s -> %d', (subject, expected) => {
    expect(extractTicketNumber(subject)).toBe(expected);
  });

  it.each([
    ['Order #1234 arrived broken'],
    ['Zamówienie nr #55107'],
    ['[1234] no hash'],
    ['[#] empty'],
    ['[#0]'],
    ['[#99999999999999999999] too long'],
    [''],
  ])('ignores %j', (subject) => {
    expect(extractTicketNumber(subject)).toBeUndefined();
  });

  it('handles a missing subject', () => {
    expect(extractTicketNumber(undefined)).toBeUndefined();
  });
});

describe('normalizeMessageIds', () => {
  it('accepts mailparser References as a string or an array', () => {
    expect(normalizeMessageIds('<a@x>')).toEqual(['<a@x>']);
    expect(normalizeMessageIds(['<a@x>', '<b@x>'])).toEqual(['<a@x>', '<b@x>']);
    expect(normalizeMessageIds(undefined)).toEqual([]);
  });

  it('splits folded and comma-separated In-Reply-To values, deduplicated in order', () => {
    expect(normalizeMessageIds('<a@x>\r\n <b@x>')).toEqual(['<a@x>', '<b@x>']);
    expect(normalizeMessageIds('<a@x>, <a@x>')).toEqual(['<a@x>']);
    expect(normalizeMessageIds(['<b@x> <a@x>', '<a@x> <c@x>'])).toEqual(['<b@x>', '<a@x>', '<c@x>']);
  });

  it('ignores text around ids and empty brackets', () => {
    expect(normalizeMessageIds('Your message <a@x> of Monday <>')).toEqual(['<a@x>']);
  });

  it('wraps bare ids so they match the bracketed form', () => {
    expect(normalizeMessageIds('a@x b@x')).toEqual(['<a@x>', '<b@x>']);
  });
});

describe('stripReplyPrefixes', () => {
  it.each([
    ['Re: Complaint', 'Complaint'],
    ['RE: Fwd: Complaint', 'Complaint'],
    ['AW: WG: Beschwerde', 'Beschwerde'],
    ['Odp: PD: Reklamacja', 'Reklamacja'],
    ['Re[2]: Complaint', 'Complaint'],
    ['Re(3): Complaint', 'Complaint'],
    ['RE : Réclamation', 'Réclamation'],
    ['השב: תלונה', 'תלונה'],
    ['השב: העבר: תלונה', 'תלונה'],
    ['Re: [#1042] Reklamacja', '[#1042] Reklamacja'],
    ['Reklamacja: Re: brak', 'Reklamacja: Re: brak'],
    ['Regarding my order', 'Regarding my order'],
  ])('%s -> %s', (subject, expected) => {
    expect(stripReplyPrefixes(subject)).toBe(expected);
  });
});
