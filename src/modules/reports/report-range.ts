import { IANAZone } from 'luxon';
import { z } from 'zod';

/** The range of a report (KPIs, agents): two instants with their zone, and the zone days are cut in. */
export const reportRange = {
  from: z.iso.datetime({ offset: true, error: 'an ISO 8601 date-time with a zone, e.g. 2026-01-01T00:00:00Z' }),
  to: z.iso.datetime({ offset: true, error: 'an ISO 8601 date-time with a zone, e.g. 2026-02-01T00:00:00Z' }),
  tz: z
    .string()
    .max(64)
    .refine((zone) => IANAZone.isValidZone(zone), 'an IANA time zone such as Europe/Warsaw')
    .default('UTC'),
};
