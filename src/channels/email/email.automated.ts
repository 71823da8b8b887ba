import type { AutomatedKind } from '../channel.types.js';

/**
 * Machine-generated mail detection. A message flagged here is stored but never opens or reopens
 * a ticket and never gets an acknowledgement: answering an out-of-office or a bounce is how
 * two robots end up mailing each other forever.
 *
 * The rules combine what Zammad and Chatwoot check (shared/channels.md §3) with the RFC 3834
 * signals neither of them reads (Precedence: auto_reply, an empty Return-Path).
 */

/**
 * Headers keyed by lower-case name. Values are mailparser's parsed values (strings, address
 * objects, the combined `list` object) or raw strings from a webhook's header list.
 */
export type HeaderLookup = ReadonlyMap<string, unknown>;

export interface ContentTypeLike {
  value: string;
  params?: Record<string, string> | undefined;
}

export interface AutomatedHints {
  /** A message/delivery-status part was found anywhere in the MIME tree. */
  deliveryStatusPart?: boolean | undefined;
}

export function detectAutomated(
  headers: HeaderLookup,
  contentType?: string | ContentTypeLike | undefined,
  hints: AutomatedHints = {},
): AutomatedKind | undefined {
  const type = readContentType(contentType ?? headers.get('content-type'));
  if (isBounce(headers, type, hints)) return 'bounce';
  if (isAutoReply(headers, type)) return 'auto_reply';
  if (present(headers, 'x-loop')) return 'loop';
  if (isBulk(headers)) return 'bulk';
  return undefined;
}

function isBounce(headers: HeaderLookup, type: ParsedContentType, hints: AutomatedHints): boolean {
  if (hints.deliveryStatusPart) return true;
  const isReport = type.value === 'multipart/report';
  if (isReport && type.reportType === 'delivery-status') return true;
  // Old-style bounces (no RFC 3464 report) still come from the daemon with some DSN evidence.
  const daemon = addressesIn(headers.get('from')).some((a) => DAEMON.test(a));
  return daemon && (isReport || present(headers, 'x-failed-recipients') || hasEmptyReturnPath(headers));
}

const DAEMON = /^(?:mailer-daemon|mailer_daemon|mailerdaemon|mail-daemon|postmaster)@/i;

function isAutoReply(headers: HeaderLookup, type: ParsedContentType): boolean {
  const autoSubmitted = text(headers.get('auto-submitted'));
  if (autoSubmitted && firstToken(autoSubmitted) !== 'no') return true;
  if (flagged(headers.get('x-autoreply')) || flagged(headers.get('x-autorespond'))) return true;
  // Exchange stamps its own out-of-office replies with "All"; "OOF" marks senders asking not to get one.
  const suppress = text(headers.get('x-auto-response-suppress'));
  if (suppress && /\b(?:all|oof)\b/i.test(suppress)) return true;
  if (precedence(headers) === 'auto_reply') return true;
  // RFC 3834 §3.3: automatic responses go out with a null reverse-path.
  if (hasEmptyReturnPath(headers)) return true;
  // Read receipts and abuse feedback are reports too, just not about delivery.
  return type.value === 'multipart/report';
}

function isBulk(headers: HeaderLookup): boolean {
  const value = precedence(headers);
  if (value === 'bulk' || value === 'junk') return true;
  /*
   * A Google Group used as a shared support address relays customer mail with List-Id and
   * Precedence: list, and names the customer in X-Original-Sender. Those list headers describe
   * the relay, not the author, so they do not make the message bulk.
   */
  if (present(headers, 'x-original-sender')) return false;
  if (value === 'list') return true;
  return hasListHeader(headers);
}

function hasListHeader(headers: HeaderLookup): boolean {
  if (present(headers, 'list-unsubscribe') || present(headers, 'list-id')) return true;
  const combined = headers.get('list');
  return isRecord(combined) && ('unsubscribe' in combined || 'id' in combined);
}

function precedence(headers: HeaderLookup): string | undefined {
  const value = text(headers.get('precedence'));
  return value === undefined ? undefined : firstToken(value);
}

function hasEmptyReturnPath(headers: HeaderLookup): boolean {
  const raw = headers.get('return-path');
  if (raw === undefined) return false;
  // The topmost Return-Path is the one the final MTA wrote.
  const first = Array.isArray(raw) ? raw[0] : raw;
  if (typeof first === 'string') return /^\s*<\s*>\s*$/.test(first);
  return isAddressObject(first) && first.value.every((a) => !a.address);
}

/** Present with any value except an explicit no/false/0. */
function flagged(value: unknown): boolean {
  const t = text(value);
  return Boolean(t) && !['no', 'false', '0'].includes(firstToken(t ?? ''));
}

/** A header with an empty value makes no claim, so it counts as absent. */
function present(headers: HeaderLookup, name: string): boolean {
  const value = headers.get(name);
  if (value === undefined || value === null) return false;
  const t = text(value);
  return t === undefined ? isRecord(value) : t !== '';
}

interface ParsedContentType {
  value: string;
  reportType?: string | undefined;
}

function readContentType(raw: unknown): ParsedContentType {
  if (Array.isArray(raw)) return readContentType(raw[0]);
  if (typeof raw === 'string') {
    const [value = '', ...params] = raw.split(';');
    const reportParam = params.map((p) => /^\s*report-type\s*=\s*"?([^"\s]*)"?/i.exec(p)?.[1]).find(Boolean);
    return { value: value.trim().toLowerCase(), reportType: reportParam?.toLowerCase() };
  }
  if (isRecord(raw) && typeof raw.value === 'string') {
    const params = isRecord(raw.params) ? raw.params : {};
    const reportType = params['report-type'];
    return {
      value: raw.value.trim().toLowerCase(),
      reportType: typeof reportType === 'string' ? reportType.toLowerCase() : undefined,
    };
  }
  return { value: '' };
}

function firstToken(value: string): string {
  return (value.split(/[;,\s]/).find((t) => t.length > 0) ?? '').toLowerCase();
}

function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value.trim();
  if (Array.isArray(value)) return value.length ? text(value[0]) : undefined;
  if (isRecord(value) && typeof value.text === 'string') return value.text.trim();
  if (isRecord(value) && typeof value.value === 'string') return value.value.trim();
  return undefined;
}

function addressesIn(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  // Split first, then test each token: the single pattern /[^…]+@[^…]+/ backtracks
  // quadratically over a long run without an '@'. A token is an address when an '@' has a
  // character on each side, which is exactly what that pattern matched.
  if (typeof value === 'string') return value.split(/[\s<>"',;:()]+/).filter(hasAddressShape);
  if (Array.isArray(value)) return value.flatMap(addressesIn);
  if (isAddressObject(value)) return value.value.map((a) => a.address ?? '').filter((a) => a.length > 0);
  return [];
}

function hasAddressShape(token: string): boolean {
  const at = token.indexOf('@', 1);
  return at !== -1 && at < token.length - 1;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isAddressObject(value: unknown): value is { value: { address?: string | undefined }[] } {
  return isRecord(value) && Array.isArray(value.value);
}
