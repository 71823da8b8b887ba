import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectAutomated } from '../../../../src/channels/email/email.automated.js';
import { blankQuotedStrings, htmlToText, writtenAddresses } from '../../../../src/channels/email/email.parser.js';

// Inputs sized so that the backtracking patterns these functions replaced would run for minutes
// (each was quadratic: 100 KB of '<' took 5.7 s, so 600 KB takes ~3.5 min); the linear
// versions finish well inside the per-test timeout. No timing is asserted, only completion.
const BIG = 600_000;

describe('HTML to text over hostile markup', () => {
  it.each([
    ['a run of "<"', '<'.repeat(BIG)],
    ['spaces with no newline', 'x' + ' '.repeat(BIG) + 'y'],
    ['unclosed comments', '<!--'.repeat(BIG / 4)],
    ['unclosed style elements', '<style>'.repeat(BIG / 7)],
    ['unclosed <br', '<br'.repeat(BIG / 3)],
    ['a closing tag with no ">" after it', '<style>a</style'.repeat(BIG / 15)],
  ])('%s completes', { timeout: 10_000 }, (_name, html) => {
    expect(typeof htmlToText(html)).toBe('string');
  });

  it('still strips what a mail client shows nothing of', () => {
    const html = '<html><head><title>T</title><style>p{}</style></head><body><!-- c --><p>Hello  </p><script>x()</script><br/>world<b>!</b></body></html>';
    expect(htmlToText(html)).toBe('Hello\n\nworld!');
  });

  it('drops an unclosed comment to the end, as a browser does', () => {
    expect(htmlToText('before<!-- never closed <p>after</p>')).toBe('before');
  });
});

describe('address headers over hostile input', () => {
  it('quoted strings are blanked exactly as the regex did', () => {
    const reference = (value: string) => value.replace(/"(?:[^"\\]|\\.)*"/g, '""');
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('"', '\\', 'a', ' ', '<', '@'), maxLength: 40 }), (value) => {
        expect(blankQuotedStrings(value)).toBe(reference(value));
      }),
      { numRuns: 5_000 },
    );
  });

  it('a From header of escaped quotes completes', { timeout: 10_000 }, () => {
    expect(writtenAddresses('"\\"'.repeat(BIG / 3) + ' <a@example.com>')).toEqual([]);
    expect(writtenAddresses('"' + 'x\\"'.repeat(BIG / 3) + '" <a@example.com>').map((a) => a.address)).toEqual(['a@example.com']);
  });

  it('automated-sender detection reads a long From without an "@" in linear time', { timeout: 10_000 }, () => {
    const headers = new Map<string, unknown>([['from', 'x'.repeat(BIG)], ['subject', 'Undelivered Mail Returned to Sender']]);
    expect(detectAutomated(headers)).toBeUndefined();
  });
});
