import { describe, expect, it } from 'vitest';
import { retentionCutoffs } from '../../../../src/domain/privacy/retention.js';
import { ERASED, ilikePattern, needlesOf, scrubJson, scrubText } from '../../../../src/domain/privacy/scrub.js';

describe('needlesOf', () => {
  it('trims, drops short values, cuts long ones and deduplicates case-insensitively', () => {
    const long = 'x'.repeat(100);
    expect(needlesOf(['  Dana Levi ', 'dana levi', 'Al', null, undefined, long])).toEqual(['dana levi', 'x'.repeat(64)]);
  });
});

describe('scrubJson', () => {
  it('replaces strings containing a needle, anywhere in the document', () => {
    const doc = { a: 'hello Dana Levi', b: [{ c: 'dana levi wrote' }, 'fine'], n: 3 };
    expect(scrubJson(doc, ['Dana Levi'])).toEqual({ a: ERASED, b: [{ c: ERASED }, 'fine'], n: 3 });
  });

  it('with byKey, also strings under personal keys; answers the same object when nothing changed', () => {
    const event = { from: 'Old subject', to: 'New subject', count: 2 };
    expect(scrubJson(event, [], true)).toEqual({ from: ERASED, to: ERASED, count: 2 });
    const untouched = { x: 'nothing here' };
    expect(scrubJson(untouched, ['Dana Levi'])).toBe(untouched);
  });
});

describe('scrubText and ilikePattern', () => {
  it('replaces every occurrence in any case, and escapes LIKE wildcards', () => {
    expect(scrubText('Dana wrote to DANA (dana)', ['dana'])).toBe(`${ERASED} wrote to ${ERASED} (${ERASED})`);
    expect(scrubText('a.b+c', ['a.b+c'])).toBe(ERASED);
    expect(ilikePattern('50%_off\\')).toBe('%50\\%\\_off\\\\%');
  });
});

describe('retentionCutoffs', () => {
  it('counts days, calendar months (clamped to the month end) and years back from now', () => {
    const now = new Date('2026-05-31T12:00:00Z');
    const cut = retentionCutoffs({ rawPayloadDays: 90, closedTicketMonths: 3, auditYears: 5 }, now);
    expect(cut.rawPayloadsBefore.toISOString()).toBe('2026-03-02T12:00:00.000Z');
    expect(cut.closedTicketsBefore?.toISOString()).toBe('2026-02-28T12:00:00.000Z');
    expect(cut.auditBefore.toISOString()).toBe('2021-05-31T12:00:00.000Z');
    expect(retentionCutoffs({ rawPayloadDays: 1, closedTicketMonths: null, auditYears: 1 }, now).closedTicketsBefore).toBeNull();
  });
});
