import { z } from 'zod';
import { limitSchema } from '../../http/pagination.js';
import { BLOCK_KINDS } from './blocklist.models.js';

export const blocklistEntryBody = z.strictObject({
  /** email, phone, facebook, twitter: one sender identity; domain: every address of an e-mail domain; phone "anonymous": every caller without a usable number. */
  kind: z.enum(BLOCK_KINDS),
  /** Normalized before storing: e-mail lower-cased, phone to E.164, domains without a trailing dot in IDNA ASCII ("@Bücher.example." to xn--bcher-kva.example). */
  value: z.string().trim().min(1).max(320),
  // Postgres text cannot hold U+0000: refused here rather than failing the insert.
  reason: z.string().trim().max(500).refine((v) => !v.includes('\u0000'), 'must not contain U+0000').nullable().optional(),
});

export const blocklistEntryView = z.object({
  id: z.uuid(),
  kind: z.enum(BLOCK_KINDS),
  value: z.string(),
  reason: z.string().nullable(),
  /** Messages refused by this entry (kept as raw payloads with outcome "blocked"). */
  blockedCount: z.number().int(),
  lastBlockedAt: z.date().nullable(),
  createdAt: z.date(),
});

export const blocklistQuery = z.object({ limit: limitSchema, cursor: z.string().max(500).optional() });
export const blocklistPage = z.object({ items: z.array(blocklistEntryView), nextCursor: z.string().nullable() });
export const blocklistIdParams = z.object({ id: z.uuid() });
