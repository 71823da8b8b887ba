/**
 * Threading hints from e-mail headers: the "[#1234]" ticket token we put in outbound subjects,
 * and the Message-IDs a reply points back to.
 */

/*
 * Only the bracketed form counts: complaints are full of bare "#55107" order numbers, and
 * reading one of those as a ticket number would attach the mail to a stranger's ticket.
 * "Ticket#" is the Zammad-style hook some customers' previous helpdesks taught them.
 */
const TICKET_TOKEN = /\[\s*(?:ticket\s*)?#\s*(\d{1,15})\s*\]/i;

export function extractTicketNumber(subject: string | undefined | null): number | undefined {
  if (!subject) return undefined;
  const match = TICKET_TOKEN.exec(subject);
  if (!match?.[1]) return undefined;
  const n = Number(match[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

const BRACKETED_ID = /<([^<>]*)>/g;

/**
 * Message-IDs from an In-Reply-To or References value, angle brackets kept, duplicates removed,
 * first occurrence order kept.
 *
 * mailparser hands References over as a string for one id and an array for several, and leaves
 * In-Reply-To as the raw (possibly folded, comma-separated, two-id) text; webhook providers pass
 * the raw header. Bare ids without brackets, which a few broken clients send, are wrapped so
 * they compare equal to the bracketed form we store.
 */
export function normalizeMessageIds(value: string | readonly string[] | undefined | null): string[] {
  if (value === undefined || value === null) return [];
  const parts = typeof value === 'string' ? [value] : value;
  const seen = new Set<string>();
  for (const part of parts) {
    if (typeof part !== 'string') continue;
    for (const id of idsIn(part)) seen.add(id);
  }
  return [...seen];
}

function idsIn(text: string): string[] {
  if (text.includes('<')) {
    return [...text.matchAll(BRACKETED_ID)]
      .map((m) => (m[1] ?? '').trim())
      .filter((inner) => inner.length > 0 && !/\s/.test(inner))
      .map((inner) => `<${inner}>`);
  }
  return text
    .split(/[\s,]+/)
    .filter((token) => token.length > 0)
    .map((token) => `<${token}>`);
}

/*
 * Reply and forward prefixes as mail clients localise them: English, German (AW/WG), Polish
 * (Odp/PD), Scandinavian (SV/VS), French/Italian (TR/R/RIF), Hebrew Outlook (השב/העבר/הועבר).
 * A counter as in "Re[2]:" or "Re(2):" and a space before the colon are tolerated.
 */
const REPLY_PREFIX =
  /^\s*(?:re|fwd?|aw|wg|odp|pd|sv|vs|tr|rif|השב|העבר|הועבר)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*/iu;

export function stripReplyPrefixes(subject: string): string {
  let current = subject;
  for (;;) {
    const next = current.replace(REPLY_PREFIX, '');
    if (next === current) return current.trim();
    current = next;
  }
}
