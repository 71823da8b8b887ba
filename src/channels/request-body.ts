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
