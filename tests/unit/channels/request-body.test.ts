import { describe, expect, it } from 'vitest';
import type { InboundRequest } from '../../../src/channels/channel.adapter.js';
import { formBody, namedFormFields } from '../../../src/channels/request-body.js';

const SIGNATURE = ['timestamp', 'token', 'signature'] as const;
const BOUNDARY = 'b0undary';

function inbound(rawBody: Buffer | string, contentType = `multipart/form-data; boundary=${BOUNDARY}`): InboundRequest {
  return { rawBody: Buffer.from(rawBody), contentType, headers: {}, publicUrl: 'https://desk.example.com/webhooks/email/mailgun', receivedAt: new Date(0) };
}

type Part = { name: string; value: string | Buffer; filename?: string; type?: string };
const part = (p: Part) =>
  Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`),
    Buffer.from(p.value),
    Buffer.from('\r\n'),
  ]);
const multipart = (parts: Part[], close = true) => Buffer.concat([...parts.map(part), Buffer.from(close ? `--${BOUNDARY}--\r\n` : '')]);

const block = [
  { name: 'timestamp', value: '1718030451' },
  { name: 'token', value: 'a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0' },
  { name: 'signature', value: '226d01ede82a2aba38d52acc5b263393a080f1255f2cfb28f0149e0019e00bce' },
];
const expected = Object.fromEntries(block.map((p) => [p.name, p.value]));

describe('namedFormFields (the signature block, read before the form is parsed)', () => {
  it('stops once every named field was seen: the rest of the body is not parsed', async () => {
    // Cut off mid-attachment, with no closing boundary: the full parse refuses it, the signature
    // block before it is still read (the scan never got to the broken part).
    const body = multipart([...block, { name: 'attachment-1', value: Buffer.alloc(300_000, 0x41), filename: 'big.bin', type: 'application/octet-stream' }], false).subarray(0, 250_000);
    expect(await namedFormFields(inbound(body), SIGNATURE)).toEqual(expected);
    await expect(formBody(inbound(body))).rejects.toThrow(/form/);
  });

  it('finds fields that come after file parts, skipping the files', async () => {
    const body = multipart([{ name: 'attachment-1', value: Buffer.alloc(200_000, 0x42), filename: 'a.bin', type: 'application/octet-stream' }, { name: 'from', value: 'a@example.com' }, ...block]);
    expect(await namedFormFields(inbound(body), SIGNATURE)).toEqual(expected);
  });

  it('keeps the first occurrence of a field, as the signature was checked on it', async () => {
    const body = multipart([...block, { name: 'token', value: 'f'.repeat(50) }]);
    expect((await namedFormFields(inbound(body), SIGNATURE)).token).toBe(expected.token);
    const urlencoded = `${new URLSearchParams(expected).toString()}&token=${'f'.repeat(50)}`;
    expect(await namedFormFields(inbound(urlencoded, 'application/x-www-form-urlencoded'), SIGNATURE)).toEqual(expected);
  });

  it('counts a named field sent as a file, or longer than any signature, as absent', async () => {
    const asFile = multipart([block[0]!, { ...block[1]!, filename: 'token.txt', type: 'text/plain' }, block[2]!]);
    expect(await namedFormFields(inbound(asFile), SIGNATURE)).toEqual({ timestamp: expected.timestamp, signature: expected.signature });
    const long = multipart([block[0]!, block[1]!, { name: 'signature', value: 'a'.repeat(5_000) }]);
    expect((await namedFormFields(inbound(long), SIGNATURE)).signature).toBe('');
  });

  it('yields nothing for a body that is no form', async () => {
    expect(await namedFormFields(inbound('{"timestamp":1}', 'application/json'), SIGNATURE)).toEqual({});
    expect(await namedFormFields(inbound('garbage', 'multipart/form-data'), SIGNATURE)).toEqual({});
    expect(await namedFormFields(inbound(`--${BOUNDARY}\r\nno headers end`), SIGNATURE)).toEqual({});
  });
});
