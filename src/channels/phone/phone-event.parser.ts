import { z } from 'zod';
import type { AttachmentMeta, NormalizedInbound } from '../channel.types.js';
import { detectLanguage } from '../language.js';
import { plausibleDate } from '../provider-date.js';
import { parsePayload } from '../signature.js';
import { callerIdentity, formatDuration } from './twilio.parser.js';
import type { PhoneParseResult } from './twilio.parser.js';

/**
 * Our own PBX/CTI-agnostic call event: a small connector next to any PBX posts one of these per
 * call state change. `direction` is an optional addition: on outbound calls ("out") the
 * customer is `to`; it defaults to inbound.
 */
export const phoneEventSchema = z.object({
  callId: z.string().trim().min(1).max(200),
  event: z.enum(['ringing', 'answered', 'missed', 'voicemail', 'ended']),
  from: z.string().trim().min(1),
  to: z.string().trim().min(1),
  direction: z.enum(['in', 'out']).optional(),
  // A uuid of our agent or whatever name/extension the PBX knows them by.
  agentId: z.string().trim().min(1).max(200).optional(),
  durationSec: z.number().int().nonnegative().optional(),
  /** Issue 16: seconds the caller waited in the queue before being answered (answered) or hanging up (missed). */
  waitSec: z.number().int().nonnegative().max(86_400).optional(),
  transcript: z.string().optional(),
  recordingUrl: z.url({ protocol: /^https?$/ }).optional(),
  at: z.iso.datetime({ offset: true }).optional(),
});

export type PhoneEvent = z.infer<typeof phoneEventSchema>;

export interface PhoneEventParseOptions {
  receivedAt: Date;
  defaultRegion: string;
}

/**
 * answered → call_completed; ended → call_completed when talk time is known and positive,
 * call_missed when it is 0, skipped when unknown; missed → call_missed; voicemail → voicemail;
 * ringing → skipped. Invalid bodies throw InvalidPayloadError naming the zod issue's field.
 */
export function parsePhoneEvent(body: unknown, opts: PhoneEventParseOptions): PhoneParseResult {
  const event = parsePayload(phoneEventSchema, body);
  const out: PhoneParseResult = { messages: [], skipped: [] };
  const id = `pbx:${event.callId}:${event.event}`;
  const outbound = event.direction === 'out';
  const sender = callerIdentity(outbound ? event.to : event.from, `pbx:${event.callId}`, opts.defaultRegion);
  const who = sender.address.startsWith('anonymous:') ? 'an anonymous caller' : sender.address;
  const duration = event.durationSec;
  const recordingUrl = event.recordingUrl;

  // Queue facts (issue 16): an inbound call answered or hung up after waiting `waitSec`.
  const queueOf = (kind: NormalizedInbound['kind']) =>
    event.waitSec === undefined || outbound || (kind !== 'call_completed' && kind !== 'call_missed')
      ? undefined
      : { outcome: kind === 'call_completed' ? ('answered' as const) : ('abandoned' as const), waitSec: event.waitSec, callId: `pbx:${event.callId}` };
  const emit = (kind: NormalizedInbound['kind'], text: string, language?: string): void => {
    out.messages.push({
      channel: 'phone',
      providerMessageId: id,
      kind,
      sender,
      thread: { callId: event.callId },
      text,
      attachments: recordingUrl ? [recordingAttachmentFor(recordingUrl, event.callId)] : [],
      sentAt: plausibleDate(event.at ? new Date(event.at) : undefined, opts.receivedAt),
      call: { durationSec: duration, recordingUrl, agentRef: event.agentId, queue: queueOf(kind) },
      providerData: { direction: outbound ? 'out' : 'in', from: event.from, to: event.to },
      ...(language ? { language } : {}),
    });
  };
  const talked = (): string =>
    `${outbound ? 'Call to' : 'Call from'} ${who}${duration ? ` (${formatDuration(duration)})` : ''}`;

  switch (event.event) {
    case 'ringing':
      out.skipped.push({ reason: 'call_ringing', ref: id });
      break;
    case 'answered':
      emit('call_completed', talked());
      break;
    case 'ended':
      if (duration === undefined) out.skipped.push({ reason: 'ended_without_duration', ref: id });
      else if (duration > 0) emit('call_completed', talked());
      else if (outbound) out.skipped.push({ reason: 'outbound_unanswered', ref: id });
      else emit('call_missed', `Missed call from ${who}`);
      break;
    case 'missed':
      if (outbound) out.skipped.push({ reason: 'outbound_unanswered', ref: id });
      else emit('call_missed', `Missed call from ${who}`);
      break;
    case 'voicemail': {
      // A transcript is the caller's own words, so it tells their language; our placeholder does not.
      const transcript = event.transcript?.trim();
      if (transcript) emit('voicemail', transcript, detectLanguage(transcript));
      else emit('voicemail', `Voicemail from ${who}${duration ? ` (${formatDuration(duration)})` : ''}`);
      break;
    }
  }
  return out;
}

function recordingAttachmentFor(url: string, callId: string): AttachmentMeta {
  // Unlike Twilio's, a PBX URL without an extension says nothing about the audio format.
  const ext = /\.(\w{2,4})$/.exec(new URL(url).pathname)?.[1]?.toLowerCase();
  const contentType = (ext && AUDIO_TYPES[ext]) ?? 'application/octet-stream';
  const safeId = callId.replace(/[^\w.-]/g, '_');
  return { filename: ext ? `call-${safeId}.${ext}` : null, contentType, size: 0, url };
}

const AUDIO_TYPES: Record<string, string> = { mp3: 'audio/mpeg', wav: 'audio/wav', ogg: 'audio/ogg', m4a: 'audio/mp4', opus: 'audio/opus' };
