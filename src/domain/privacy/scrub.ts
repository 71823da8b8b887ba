/*
 * Finding a customer's personal data by value, where it is not in a column of its own: inside
 * JSON documents (timeline events, notifications, other features' outboxes), in text of tables
 * this module does not know, in Redis jobs. Pure: the erasure feeds it what it knows about the
 * customer and writes back what it answers.
 */

/** Shorter values would match unrelated text ("Al" in "Alarm"): they are erased by column only. */
export const MIN_NEEDLE_LENGTH = 4;
/** A long text (a message body) is searched by its beginning: previews and excerpts start there. */
export const MAX_NEEDLE_LENGTH = 64;

export const ERASED = '[erased]';

/**
 * The strings to look for: each value trimmed, cut to its first MAX_NEEDLE_LENGTH characters,
 * deduplicated case-insensitively, too-short ones left out.
 */
export function needlesOf(values: readonly (string | null | undefined)[]): string[] {
  const seen = new Map<string, string>();
  for (const value of values) {
    const trimmed = value?.trim();
    if (!trimmed || trimmed.length < MIN_NEEDLE_LENGTH) continue;
    const needle = trimmed.slice(0, MAX_NEEDLE_LENGTH);
    seen.set(needle.toLowerCase(), needle);
  }
  return [...seen.values()];
}

export function containsAny(text: string, needles: readonly string[]): boolean {
  const lower = text.toLowerCase();
  return needles.some((n) => lower.includes(n.toLowerCase()));
}

/** Keys whose string values are personal wherever they appear (an event's subject, a suggested address). */
const PERSONAL_KEYS = /^(subject|body|bodyText|bodyHtml|text|html|name|displayName|address|handle|from|to|email|phone|comment|description|claimedSender|senderAddress|preview|excerpt|recipient|destination|inReplyTo|references|messageIdHeader|threadKey)$/;

/**
 * A JSON value with every string that contains one of the needles replaced by ERASED; with
 * `byKey`, also every string under a personal key (an event that recorded an old subject).
 * Answers the same value (===) when nothing changed, so callers write back only what did.
 */
export function scrubJson(value: unknown, needles: readonly string[], byKey = false): unknown {
  const walk = (v: unknown, key: string | null): unknown => {
    if (typeof v === 'string') return (byKey && key !== null && PERSONAL_KEYS.test(key) && v.length > 0) || containsAny(v, needles) ? ERASED : v;
    if (Array.isArray(v)) {
      let changed = false;
      const out = v.map((item) => {
        const next = walk(item, key);
        if (next !== item) changed = true;
        return next;
      });
      return changed ? out : v;
    }
    if (v !== null && typeof v === 'object') {
      let changed = false;
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
        const next = walk(item, k);
        if (next !== item) changed = true;
        out[k] = next;
      }
      return changed ? out : v;
    }
    return v;
  };
  return walk(value, null);
}

/** A text with every occurrence of a needle (any case) replaced by ERASED. */
export function scrubText(text: string, needles: readonly string[]): string {
  let out = text;
  for (const needle of needles) {
    const pattern = new RegExp(needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi');
    out = out.replace(pattern, ERASED);
  }
  return out;
}

/** A pattern for SQL ILIKE that matches the needle anywhere, with the wildcards in it escaped. */
export function ilikePattern(needle: string): string {
  return `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
