import { isAscii, isUtf8 } from 'node:buffer';
import chardet from 'chardet';
import iconv from 'iconv-lite';

/**
 * Repairs what legacy mail clients get wrong about charsets, before mailparser reads the message:
 *
 * 1. Raw 8-bit header bytes in a legacy charset (GB2312 subjects and display names written
 *    without RFC 2047 encoded-words). mailparser reads raw header bytes as UTF-8, so they became
 *    U+FFFD. Such lines are transcoded to UTF-8, which mailparser reads correctly (RFC 6532).
 * 2. Text parts with no charset parameter whose bytes are not UTF-8. mailparser takes them as
 *    UTF-8 too. The detected charset is added to their Content-Type.
 * 3. Shift_JIS sent under an ISO-2022-JP label (old Japanese Windows clients do this).
 *    ISO-2022-JP is a 7-bit encoding: a byte ≥ 0x80 proves the label wrong. Such parts and
 *    encoded-words are relabelled CP932 (Microsoft's Shift_JIS, a superset).
 *
 * The charset of undeclared bytes is detected once per message, over all of them together
 * (chardet): a subject alone is too short to tell GB2312 from Shift_JIS, the body is not.
 * Well-formed messages come back as the same Buffer, untouched.
 */
export function repairLegacyCharsets(raw: Buffer): Buffer {
  if (!mayNeedRepair(raw)) return raw;
  // latin1 maps each byte to one char and back, so string offsets are byte offsets.
  const text = raw.toString('latin1');
  const parts = scanParts(text);
  const undeclared: Buffer[] = [];
  for (const part of parts) {
    for (const line of part.headerLines) {
      const bytes = Buffer.from(text.slice(line.start, line.end), 'latin1');
      if (!isUtf8(bytes)) undeclared.push(bytes);
    }
    if (part.isText && part.charset === undefined) {
      const body = decodeTransfer(text.slice(part.bodyStart, part.bodyEnd), part.transferEncoding);
      if (!isUtf8(body)) undeclared.push(body);
    }
  }
  const detected = undeclared.length > 0 ? detectCharset(sampleOf(undeclared)) : undefined;

  const edits: Edit[] = [];
  for (const part of parts) {
    if (detected) {
      for (const line of part.headerLines) {
        const bytes = Buffer.from(text.slice(line.start, line.end), 'latin1');
        if (!isUtf8(bytes)) edits.push({ start: line.start, end: line.end, text: Buffer.from(iconv.decode(bytes, detected), 'utf8').toString('latin1') });
      }
    }
    if (part.isText && part.charset === undefined && detected) {
      const body = decodeTransfer(text.slice(part.bodyStart, part.bodyEnd), part.transferEncoding);
      if (!isUtf8(body)) edits.push(declareCharset(part, detected));
    } else if (part.isText && isIso2022Jp(part.charset) && part.contentType) {
      const body = decodeTransfer(text.slice(part.bodyStart, part.bodyEnd), part.transferEncoding);
      if (hasHighBytes(body)) {
        const header = part.contentType;
        edits.push({ start: header.start, end: header.end, text: text.slice(header.start, header.end).replace(/(charset\s*=\s*"?)iso-2022-jp[^";\s]*/i, '$1CP932') });
      }
    }
    for (const line of part.headerLines) edits.push(...relabelEncodedWords(text, line));
  }
  if (edits.length === 0) return raw;
  return Buffer.from(applyEdits(text, edits), 'latin1');
}

interface Span {
  start: number;
  end: number;
}

interface Edit extends Span {
  text: string;
}

interface Part {
  headerStart: number;
  /** Each header field, folded lines included, without its line ending. */
  headerLines: Span[];
  contentType: Span | undefined;
  isText: boolean;
  charset: string | undefined;
  transferEncoding: string;
  bodyStart: number;
  bodyEnd: number;
}

function mayNeedRepair(raw: Buffer): boolean {
  // 7-bit messages can still carry Shift_JIS under an ISO-2022-JP label, base64-encoded.
  return hasHighBytes(raw) || /=\?iso-2022-jp|charset\s*=\s*"?iso-2022-jp/i.test(raw.toString('latin1'));
}

/** Header blocks and bodies of the message and of every part of its multiparts (not of attached messages). */
function scanParts(text: string): Part[] {
  const parts: Part[] = [];
  const visit = (start: number, end: number) => {
    const headerEnd = findHeaderEnd(text, start, end);
    const headerLines = splitHeaderFields(text, start, headerEnd.fieldsEnd);
    const contentType = headerLines.find((l) => /^content-type\s*:/i.test(text.slice(l.start, l.end)));
    const typeValue = contentType ? unfold(text.slice(contentType.start, contentType.end)).replace(/^[^:]*:/, '') : '';
    const mediaType = (/^\s*([^;\s]+)/.exec(typeValue)?.[1] ?? 'text/plain').toLowerCase();
    const transfer = headerLines.find((l) => /^content-transfer-encoding\s*:/i.test(text.slice(l.start, l.end)));
    const transferEncoding = transfer ? unfold(text.slice(transfer.start, transfer.end)).replace(/^[^:]*:/, '').trim().toLowerCase() : '7bit';
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(typeValue)?.[1];
    parts.push({ headerStart: start, headerLines, contentType, isText: mediaType.startsWith('text/'), charset, transferEncoding, bodyStart: headerEnd.bodyStart, bodyEnd: end });
    const boundary = mediaType.startsWith('multipart/') ? /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(typeValue) : null;
    if (boundary) for (const child of childSpans(text, headerEnd.bodyStart, end, boundary[1] ?? boundary[2]!)) visit(child.start, child.end);
  };
  visit(0, text.length);
  return parts;
}

function findHeaderEnd(text: string, start: number, end: number): { fieldsEnd: number; bodyStart: number } {
  // An empty header block (a part starting with a blank line) has its body right away.
  const blank = /^\r?\n/.exec(text.slice(start, start + 2));
  if (blank) return { fieldsEnd: start, bodyStart: start + blank[0].length };
  const match = /\r?\n\r?\n/g;
  match.lastIndex = start;
  const found = match.exec(text);
  if (!found || found.index >= end) return { fieldsEnd: end, bodyStart: end };
  return { fieldsEnd: found.index, bodyStart: found.index + found[0].length };
}

function splitHeaderFields(text: string, start: number, end: number): Span[] {
  const fields: Span[] = [];
  let position = start;
  while (position < end) {
    let lineEnd = text.indexOf('\n', position);
    if (lineEnd < 0 || lineEnd > end) lineEnd = end;
    const content = { start: position, end: lineEnd > position && text[lineEnd - 1] === '\r' ? lineEnd - 1 : lineEnd };
    const folded = (text[position] === ' ' || text[position] === '\t') && fields.length > 0;
    if (folded) fields[fields.length - 1]!.end = content.end;
    else fields.push(content);
    position = lineEnd + 1;
  }
  return fields;
}

function unfold(field: string): string {
  return field.replace(/\r?\n[ \t]+/g, ' ');
}

/** The parts between "--boundary" lines, up to "--boundary--". */
function childSpans(text: string, start: number, end: number, boundary: string): Span[] {
  const delimiter = `--${boundary}`;
  const spans: Span[] = [];
  let partStart: number | undefined;
  let position = start;
  while (position < end) {
    const at = text.indexOf(delimiter, position);
    if (at < 0 || at >= end) break;
    const atLineStart = at === start || text[at - 1] === '\n';
    if (!atLineStart) {
      position = at + delimiter.length;
      continue;
    }
    if (partStart !== undefined) {
      // The line break before the delimiter belongs to the delimiter.
      const partEnd = text[at - 2] === '\r' ? at - 2 : at - 1;
      spans.push({ start: partStart, end: Math.max(partStart, partEnd) });
    }
    const closing = text.startsWith('--', at + delimiter.length);
    const lineEnd = text.indexOf('\n', at);
    if (closing || lineEnd < 0) return spans;
    partStart = lineEnd + 1;
    position = partStart;
  }
  if (partStart !== undefined && partStart < end) spans.push({ start: partStart, end });
  return spans;
}

function decodeTransfer(body: string, encoding: string): Buffer {
  if (encoding === 'base64') return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (encoding === 'quoted-printable') {
    return Buffer.from(body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  }
  return Buffer.from(body, 'latin1');
}

function hasHighBytes(bytes: Buffer): boolean {
  return !isAscii(bytes);
}

function isIso2022Jp(charset: string | undefined): boolean {
  return charset !== undefined && /^iso-2022-jp/i.test(charset);
}

/**
 * A bounded sample for the detector: chardet's time grows with its input, and a few kilobytes of
 * text tell the charset as well as 25 MB do. Headers come first, each piece is capped.
 */
const SAMPLE_BYTES = 64 * 1024;

function sampleOf(pieces: Buffer[]): Buffer {
  const capped = pieces.map((piece) => piece.subarray(0, SAMPLE_BYTES / 2));
  const sample = Buffer.concat(capped);
  return sample.length > SAMPLE_BYTES ? sample.subarray(0, SAMPLE_BYTES) : sample;
}

/** chardet's names, mapped to the superset a mailer really used; undefined when unsure. */
function detectCharset(sample: Buffer): string | undefined {
  const best = chardet.analyse(sample).find((candidate) => candidate.confidence >= 10 && iconv.encodingExists(candidate.name));
  if (!best) return undefined;
  const name = best.name.toLowerCase();
  if (name === 'iso-8859-1') return 'windows-1252';
  if (name === 'shift_jis') return 'cp932';
  if (name === 'euc-kr') return 'cp949';
  return best.name;
}

function declareCharset(part: Part, charset: string): Edit {
  if (part.contentType) return { start: part.contentType.end, end: part.contentType.end, text: `; charset="${charset}"` };
  // No Content-Type at all: text/plain is the default, now with its charset.
  return { start: part.headerStart, end: part.headerStart, text: `Content-Type: text/plain; charset="${charset}"\r\n` };
}

/** =?ISO-2022-JP?B?…?= words whose bytes are not 7-bit are Shift_JIS: relabelled CP932. */
function relabelEncodedWords(text: string, line: Span): Edit[] {
  const edits: Edit[] = [];
  const field = text.slice(line.start, line.end);
  for (const word of field.matchAll(/=\?(iso-2022-jp[^?*]*)(\*[^?]*)?\?([bq])\?([^?]*)\?=/gi)) {
    const payload = word[4]!;
    const bytes = word[3]!.toLowerCase() === 'b' ? Buffer.from(payload, 'base64') : decodeTransfer(payload.replace(/_/g, ' '), 'quoted-printable');
    if (!hasHighBytes(bytes)) continue;
    const start = line.start + word.index + 2;
    edits.push({ start, end: start + word[1]!.length, text: 'CP932' });
  }
  return edits;
}

function applyEdits(text: string, edits: Edit[]): string {
  const ordered = [...edits].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  let limit = Number.POSITIVE_INFINITY;
  for (const edit of ordered) {
    if (edit.end > limit) continue; // overlapping edits: the later one already rewrote this span
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
    limit = edit.start;
  }
  return out;
}
