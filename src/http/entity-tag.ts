import { createHash } from 'node:crypto';

/**
 * Entity tags (RFC 9110 §8.8.3). SLA policies and calendars carry no version column, so their tag is a
 * digest of the representation itself (updatedAt included): it changes whenever what a
 * client read changes, even when two changes land within the same clock instant.
 */
export function entityTagOf(row: object): string {
  return `"${createHash('sha256').update(JSON.stringify(row)).digest('base64url').slice(0, 27)}"`;
}

/** The tags of an If-Match / If-None-Match list, weak prefixes dropped (RFC 9110 §13.1). */
function tagsOf(header: string): string[] {
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, '').replaceAll('"', ''))
    .filter(Boolean);
}

/** True when the header names the current tag (or is "*"); an absent header matches. */
export function ifMatchHolds(header: string | undefined, current: string): boolean {
  if (header === undefined) return true;
  return tagsOf(header).some((tag) => tag === '*' || tag === current.replaceAll('"', ''));
}

/** True when an If-None-Match header names the current tag (or "*"): the client's copy is fresh. */
export function ifNoneMatchHits(header: string | undefined, current: string): boolean {
  if (header === undefined) return false;
  return tagsOf(header).some((tag) => tag === '*' || tag === current.replaceAll('"', ''));
}
