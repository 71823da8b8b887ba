import { describe, expect, it } from 'vitest';
import { detectAutomated } from '../../../../src/channels/email/email.automated.js';

const headers = (entries: Record<string, unknown>) => new Map(Object.entries(entries));
const emptyReturnPath = { value: [{ address: '', name: '' }], html: '', text: '' };
const daemonFrom = { value: [{ address: 'MAILER-DAEMON@mx.example.org', name: '' }], html: '', text: '' };

describe('detectAutomated', () => {
  it('leaves ordinary mail unflagged', () => {
    expect(detectAutomated(headers({ subject: 'Complaint', 'content-type': { value: 'text/plain', params: {} } }))).toBeUndefined();
  });

  it.each([
    ['auto-submitted', 'auto-replied'],
    ['auto-submitted', 'auto-generated'],
    ['auto-submitted', 'auto-replied; owner-email="x@example.com"'],
    ['x-autoreply', 'yes'],
    ['x-autoreply', 'true'],
    ['x-autorespond', 'Vacation'],
    ['x-auto-response-suppress', 'All'],
    ['x-auto-response-suppress', 'DR, OOF, AutoReply'],
    ['precedence', 'auto_reply'],
  ])('%s: %s is an auto-reply', (name, value) => {
    expect(detectAutomated(headers({ [name]: value }))).toBe('auto_reply');
  });

  it.each([
    ['auto-submitted', 'no'],
    ['auto-submitted', 'No'],
    ['auto-submitted', ''],
    ['x-autoreply', 'no'],
    ['x-autoreply', 'false'],
    ['x-auto-response-suppress', 'DR, RN'],
    ['x-loop', ''],
    ['precedence', 'first-class'],
  ])('%s: %j is not a signal', (name, value) => {
    expect(detectAutomated(headers({ [name]: value }))).toBeUndefined();
  });

  it('treats an empty Return-Path as automatic, in parsed or raw form', () => {
    expect(detectAutomated(headers({ 'return-path': emptyReturnPath }))).toBe('auto_reply');
    expect(detectAutomated(headers({ 'return-path': ['<>'] }))).toBe('auto_reply');
    expect(detectAutomated(headers({ 'return-path': '<customer@example.com>' }))).toBeUndefined();
  });

  it('flags X-Loop as a loop', () => {
    expect(detectAutomated(headers({ 'x-loop': 'support@complaint-desk.example' }))).toBe('loop');
  });

  it.each([
    [{ precedence: 'bulk' }],
    [{ precedence: 'junk' }],
    [{ precedence: 'list' }],
    [{ 'list-unsubscribe': '<mailto:u@example.com>' }],
    [{ 'list-id': '<news.example.com>' }],
    [{ list: { unsubscribe: { url: 'https://example.com/u' } } }],
    [{ list: { id: { id: 'news.example.com' } } }],
  ])('flags list and bulk mail %j as bulk', (entries) => {
    expect(detectAutomated(headers(entries))).toBe('bulk');
  });

  it('does not call group-relayed customer mail bulk for its list headers', () => {
    const relayed = headers({ precedence: 'list', 'list-id': '<support.example.com>', 'x-original-sender': 'jane@example.com' });
    expect(detectAutomated(relayed)).toBeUndefined();
    expect(detectAutomated(headers({ precedence: 'bulk', 'x-original-sender': 'jane@example.com' }))).toBe('bulk');
  });

  it('recognises a delivery-status report from the top-level content type', () => {
    expect(detectAutomated(headers({}), 'multipart/report; report-type="delivery-status"; boundary="b"')).toBe('bounce');
    expect(
      detectAutomated(headers({}), { value: 'multipart/report', params: { 'report-type': 'delivery-status' } }),
    ).toBe('bounce');
  });

  it('recognises a bounce from a delivery-status part anywhere in the tree', () => {
    expect(detectAutomated(headers({}), 'multipart/mixed', { deliveryStatusPart: true })).toBe('bounce');
  });

  it('prefers bounce over the auto-reply headers a bounce also carries', () => {
    const bounce = headers({ 'auto-submitted': 'auto-replied', 'return-path': emptyReturnPath });
    expect(detectAutomated(bounce, 'multipart/report; report-type=delivery-status')).toBe('bounce');
  });

  it('treats a daemon From with DSN evidence as a bounce', () => {
    expect(detectAutomated(headers({ from: daemonFrom, 'x-failed-recipients': 'a@example.com' }))).toBe('bounce');
    expect(detectAutomated(headers({ from: 'postmaster@example.org', 'return-path': '<>' }))).toBe('bounce');
    expect(detectAutomated(headers({ from: daemonFrom }))).toBeUndefined();
  });

  it('treats other reports (read receipts) as auto-replies, not bounces', () => {
    expect(detectAutomated(headers({}), 'multipart/report; report-type=disposition-notification')).toBe('auto_reply');
  });

  it('ranks auto-reply over loop over bulk', () => {
    expect(detectAutomated(headers({ 'x-loop': 'yes', precedence: 'bulk', 'x-autoreply': 'yes' }))).toBe('auto_reply');
    expect(detectAutomated(headers({ 'x-loop': 'yes', precedence: 'bulk' }))).toBe('loop');
  });
});
