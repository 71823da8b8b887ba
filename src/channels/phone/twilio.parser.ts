import type { AttachmentMeta, InboundKind, NormalizedInbound, SenderIdentity } from '../channel.types.js';
import { InvalidPayloadError } from '../channel.errors.js';
import { normalizePhone } from '../identity.js';
import { detectLanguage } from '../language.js';
import { plausibleDate } from '../provider-date.js';

export interface PhoneParseResult {
  messages: NormalizedInbound[];
  skipped: { reason: string; ref?: string }[];
}

export interface TwilioParseOptions {
  receivedAt: Date;
  /** Region for numbers Twilio did not send in E.164 (it normally does). */
  defaultRegion: string;
}

const PROGRESS_STATUSES = new Set(['queued', 'initiated', 'ringing', 'in-progress']);
const UNANSWERED_STATUSES = new Set(['busy', 'no-answer', 'canceled', 'failed']);

/**
 * One Twilio Voice callback (status callback, <Dial> action, recording status or transcription
 * callback; form-encoded) → at most one normalized event. Ids are derived from the call,
 * recording and transcription SIDs so Twilio's retries and overlapping callbacks de-duplicate.
 */
export function parseTwilioVoice(params: Record<string, string>, opts: TwilioParseOptions): PhoneParseResult {
  const callSid = params['CallSid']?.trim();
  if (!callSid) throw new InvalidPayloadError('CallSid', 'CallSid: required on every Twilio voice callback');

  const direction = params['Direction'] ?? 'inbound';
  const outbound = direction.startsWith('outbound');
  // On our outbound calls the customer is the called party.
  const rawParty = (outbound ? (params['To'] ?? params['Called']) : (params['From'] ?? params['Caller'])) ?? '';
  const sender = callerIdentity(rawParty, callSid, opts.defaultRegion, outbound ? undefined : params['CallerName']);
  const who = sender.address.startsWith('anonymous:') ? 'an anonymous caller' : sender.address;

  const base = {
    channel: 'phone' as const,
    sender,
    // Child legs (<Dial>) carry the parent's SID; recordings always name the parent.
    thread: { callId: params['ParentCallSid'] || callSid },
    attachments: [] as AttachmentMeta[],
    sentAt: plausibleDate(rfc2822(params['Timestamp']), opts.receivedAt),
    providerData: compact({
      accountSid: params['AccountSid'],
      direction,
      callStatus: params['CallStatus'],
      dialCallStatus: params['DialCallStatus'],
      from: params['From'],
      to: params['To'],
    }),
  };
  const out: PhoneParseResult = { messages: [], skipped: [] };
  const emit = (m: Omit<NormalizedInbound, keyof typeof base> & Partial<typeof base>): void => {
    out.messages.push({ ...base, ...m });
  };

  // Transcription callback: the words of a voicemail, as a separate event next to the recording.
  if (params['TranscriptionText'] !== undefined || params['TranscriptionSid'] !== undefined) {
    const sid = params['TranscriptionSid'];
    if (!sid) throw new InvalidPayloadError('TranscriptionSid', 'TranscriptionSid: required with TranscriptionText');
    const status = params['TranscriptionStatus'];
    if ((status && status !== 'completed') || !params['TranscriptionText']?.trim()) {
      out.skipped.push({ reason: 'transcription_failed', ref: `tr:${sid}` });
      return out;
    }
    const transcript = params['TranscriptionText'].trim();
    emit({
      providerMessageId: `tr:${sid}`,
      kind: 'voicemail',
      text: transcript,
      call: { recordingUrl: params['RecordingUrl'] },
      // The caller's own words: the only phone text that tells their language (the rest is ours).
      language: detectLanguage(transcript),
    });
    return out;
  }

  // <Enqueue> action (issue 16): the caller left the queue, bridged to an agent or hung up,
  // after QueueTime seconds. Bridged: the status callback that follows brings the talk time,
  // so only the queue fact is kept (as the call's completed event, which it then repeats).
  if (params['QueueResult'] !== undefined) {
    const wait = seconds(params['QueueTime']);
    const result = params['QueueResult'];
    if (outbound || wait === undefined || (result !== 'bridged' && result !== 'hangup')) {
      out.skipped.push({ reason: `queue_${result}`, ref: `queue:${callSid}` });
      return out;
    }
    const answered = result === 'bridged';
    emit({
      providerMessageId: `queue:${callSid}:${answered ? 'answered' : 'abandoned'}`,
      kind: answered ? 'call_completed' : 'call_missed',
      text: answered ? `Call from ${who} answered after ${formatDuration(wait)} in the queue` : `Missed call from ${who} (hung up after ${formatDuration(wait)} in the queue)`,
      call: { queue: { outcome: answered ? 'answered' : 'abandoned', waitSec: wait, callId: `twilio:${callSid}` } },
    });
    return out;
  }

  // <Dial> action: whether an agent picked up, which the parent call's status cannot tell
  // (Twilio answers every inbound call itself, so the parent is "completed" even if nobody did).
  // Checked before recordings because a recorded <Dial> reports the conversation's RecordingUrl.
  if (params['DialCallStatus'] !== undefined) {
    const duration = seconds(params['DialCallDuration']);
    const answered = ['completed', 'answered'].includes(params['DialCallStatus']) && (duration ?? 1) > 0;
    outcome(answered ? 'call_completed' : 'call_missed', duration);
    return out;
  }

  if (params['RecordingUrl'] !== undefined) {
    const url = params['RecordingUrl'];
    const sid = params['RecordingSid'] || /\/Recordings\/(RE[0-9a-f]{32})/i.exec(url)?.[1];
    if (!sid) throw new InvalidPayloadError('RecordingSid', 'RecordingSid: required with RecordingUrl');
    const status = params['RecordingStatus'];
    const source = params['RecordingSource'];
    const duration = seconds(params['RecordingDuration'] ?? params['Duration']);
    if (status && status !== 'completed') {
      out.skipped.push({ reason: `recording_${status}`, ref: `rec:${sid}` });
    } else if (source && source !== 'RecordVerb') {
      // A recorded conversation (DialVerb, OutboundAPI, …), not a message the caller left.
      out.skipped.push({ reason: 'call_recording', ref: `rec:${sid}` });
    } else if (duration === 0) {
      out.skipped.push({ reason: 'empty_recording', ref: `rec:${sid}` });
    } else {
      emit({
        providerMessageId: `rec:${sid}`,
        kind: 'voicemail',
        text: `Voicemail from ${who}${duration ? ` (${formatDuration(duration)})` : ''}`,
        attachments: [recordingAttachment(url, sid)],
        call: { durationSec: duration, recordingUrl: url },
      });
    }
    return out;
  }

  const status = params['CallStatus'];
  if (!status) throw new InvalidPayloadError('CallStatus', 'CallStatus: required on a call status callback');
  if (PROGRESS_STATUSES.has(status)) {
    out.skipped.push({ reason: `call_${status}`, ref: `call:${callSid}` });
  } else if (status === 'completed') {
    const duration = seconds(params['CallDuration']);
    outcome(duration === 0 ? 'call_missed' : 'call_completed', duration);
  } else if (UNANSWERED_STATUSES.has(status)) {
    outcome('call_missed', seconds(params['CallDuration']));
  } else {
    out.skipped.push({ reason: 'unknown_call_status', ref: `call:${callSid}` });
  }
  return out;

  function outcome(kind: Extract<InboundKind, 'call_completed' | 'call_missed'>, duration: number | undefined): void {
    if (kind === 'call_missed' && outbound) {
      // Our own unanswered attempt is not a customer asking for a callback.
      out.skipped.push({ reason: 'outbound_unanswered', ref: `call:${callSid}` });
      return;
    }
    const missed = kind === 'call_missed';
    const text = missed
      ? `Missed call from ${who}`
      : `${outbound ? 'Call to' : 'Call from'} ${who}${duration ? ` (${formatDuration(duration)})` : ''}`;
    emit({
      providerMessageId: `call:${callSid}:${missed ? 'missed' : 'completed'}`,
      kind,
      text,
      call: { durationSec: duration },
    });
  }
}

/**
 * The customer's phone identity. Callers without a usable number (withheld caller ID, Twilio
 * Client "client:alice", SIP URIs, Twilio's ANONYMOUS/RESTRICTED placeholder numbers, which are
 * not valid numbers) get "anonymous:<CallSid>": one identity per call, so that two withheld
 * numbers never merge into one customer, while the raw value stays in displayName.
 */
export function callerIdentity(raw: string, callSid: string, defaultRegion: string, callerName?: string): SenderIdentity {
  const e164 = normalizePhone(raw, defaultRegion);
  if (e164) return { kind: 'phone', address: e164, displayName: callerName?.trim() || undefined };
  const client = /^client:(.+)$/i.exec(raw.trim())?.[1];
  const displayName = client ? `Twilio Client ${client}` : /^sip:/i.test(raw.trim()) ? raw.trim() : 'Anonymous caller';
  return { kind: 'phone', address: `anonymous:${callSid}`, displayName };
}

export function recordingAttachment(url: string, sid: string): AttachmentMeta {
  // Twilio serves WAV for an extension-less recording URL and MP3 when ".mp3" is appended.
  const mp3 = /\.mp3(?:$|\?)/i.test(url);
  return { filename: `${sid}.${mp3 ? 'mp3' : 'wav'}`, contentType: mp3 ? 'audio/mpeg' : 'audio/wav', size: 0, url };
}

export function formatDuration(totalSeconds: number): string {
  const m = Math.floor(totalSeconds / 60);
  const s = totalSeconds % 60;
  return m > 0 ? `${m}m ${s}s` : `${s}s`;
}

function seconds(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

function rfc2822(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

function compact(record: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).filter((e): e is [string, string] => e[1] !== undefined));
}
