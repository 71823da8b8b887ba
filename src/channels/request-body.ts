import { Busboy } from '@fastify/busboy';
import type { InboundRequest } from './channel.adapter.js';
import { InvalidPayloadError } from './channel.errors.js';

/** A JSON body, or an InvalidPayloadError naming the body (answered 400 and dead-lettered). */
export function jsonBody(request: InboundRequest): unknown {
  try {
    return JSON.parse(request.rawBody.toString('utf8'));
  } catch (error) {
    throw new InvalidPayloadError('body', `is not valid JSON: ${(error as Error).message}`);
  }
}

export interface FormFile {
  filename: string | null;
  contentType: string;
  content: Buffer;
}

export interface FormBody {
  fields: Record<string, string>;
  files: FormFile[];
}

/** Form bodies (urlencoded or multipart) through the platform's own parser (undici). */
async function parseForm(request: InboundRequest): Promise<FormBody> {
  let form: globalThis.FormData;
  try {
    form = await new Response(new Uint8Array(request.rawBody), { headers: { 'content-type': request.contentType ?? '' } }).formData();
  } catch (error) {
    throw new InvalidPayloadError('body', `is not a form body: ${(error as Error).message}`);
  }
  const fields: Record<string, string> = {};
  const files: FormFile[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') fields[name] = value;
    else files.push({ filename: value.name || null, contentType: value.type || 'application/octet-stream', content: Buffer.from(await value.arrayBuffer()) });
  }
  return { fields, files };
}

// Form-signed providers (Mailgun, Twilio) need the fields to verify and again to parse: parse once.
const forms = new WeakMap<InboundRequest, Promise<FormBody>>();

export function formBody(request: InboundRequest): Promise<FormBody> {
  let form = forms.get(request);
  if (!form) {
    form = parseForm(request);
    forms.set(request, form);
  }
  return form;
}

/** The form's fields for a signature check: a body that is no form simply fails the check. */
export async function formFieldsOrNone(request: InboundRequest): Promise<Record<string, string>> {
  return formBody(request).then(
    (form) => form.fields,
    () => ({}),
  );
}

// Signature fields are short (Mailgun: a 10-digit timestamp, a 50-character token, 64 hex digits).
const SIGNATURE_FIELD_BYTES = 1_024;
const SCAN_CHUNK_BYTES = 64 * 1024;

/**
 * Only the named fields of a form body, first occurrence of each, for checking a signature
 * before anything else is parsed. File parts are skipped without being buffered, other fields
 * are kept to SIGNATURE_FIELD_BYTES (a longer value of a named field counts as absent), and the
 * scan stops as soon as every named field was seen, so a forged 25 MB form costs a scan at most,
 * not copies of its parts. A body that is no form yields {} (the signature check then fails).
 *
 * Whoever verifies with these values must also use them for anything the signature vouches for
 * (a replay token): a later field of the same name, which the full parse would keep, was never
 * verified.
 */
export async function namedFormFields(request: InboundRequest, names: readonly string[]): Promise<Record<string, string>> {
  const wanted = new Set(names);
  const found: Record<string, string> = {};
  let parser: ReturnType<typeof createFieldParser>;
  try {
    parser = createFieldParser(request.contentType ?? '', (name, value, truncated) => {
      if (!wanted.has(name) || name in found) return;
      found[name] = truncated ? '' : value;
    });
  } catch {
    return {}; // not a form media type busboy knows, or no multipart boundary
  }
  const done = () => names.every((name) => name in found);
  try {
    for (let offset = 0; offset < request.rawBody.length && !done(); offset += SCAN_CHUNK_BYTES) {
      await parser.write(request.rawBody.subarray(offset, offset + SCAN_CHUNK_BYTES));
    }
    if (!done()) await parser.end();
  } catch {
    return {};
  } finally {
    parser.destroy();
  }
  return found;
}

function createFieldParser(contentType: string, onField: (name: string, value: string, truncated: boolean) => void) {
  // A part is a file only when it has a filename, as in the full parse (undici): a named field
  // sent as application/octet-stream is still that field.
  const bb = new Busboy({
    headers: { 'content-type': contentType },
    isPartAFile: (_field, _type, filename) => filename !== undefined,
    limits: { fieldSize: SIGNATURE_FIELD_BYTES },
  });
  let failure: unknown;
  bb.on('error', (error: unknown) => (failure = error));
  bb.on('field', (name, value, _nameTruncated, valueTruncated) => onField(name, value, valueTruncated));
  // No 'file' listener: busboy discards file parts itself.
  const settle = (resolve: () => void, reject: (e: unknown) => void) => (failure ? reject(failure) : resolve());
  return {
    write: (chunk: Buffer) => new Promise<void>((resolve, reject) => bb.write(chunk, (error) => (error ? reject(error) : settle(resolve, reject)))),
    end: () =>
      new Promise<void>((resolve, reject) => {
        bb.once('finish', () => settle(resolve, reject));
        bb.once('error', reject);
        bb.end();
      }),
    destroy: () => bb.destroy(),
  };
}
