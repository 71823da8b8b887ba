import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../../../src/channels/channel.errors.js';
import { parsePhoneEvent, phoneEventSchema } from '../../../src/channels/phone/phone-event.parser.js';
import { parseTwilioVoice } from '../../../src/channels/phone/twilio.parser.js';
import { urlVariants, verifyTwilioSignature } from '../../../src/channels/phone/twilio.signature.js';

// channels.md §4.1 and twilio-node spec/validation.spec.js.
const TOKEN = '12345';
const URL = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };

describe('verifyTwilioSignature', () => {
  it('accepts the channels.md test vector', () => {
    expect(verifyTwilioSignature(URL, PARAMS, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', TOKEN)).toBe(true);
  });

  it('accepts the URL with and without its port, like twilio-node', () => {
    // Signed without port, called on :1234.
    expect(verifyTwilioSignature(URL.replace('.com', '.com:1234'), PARAMS, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', TOKEN)).toBe(true);
    // Signed with the port as given.
    expect(verifyTwilioSignature('http://mycompany.com:1234/myapp.php?foo=1&bar=2', PARAMS, 'Zmvh+3yNM1Phv2jhDCwEM3q5ebU=', TOKEN)).toBe(true);
    // Signed with the default port added.
    expect(verifyTwilioSignature(URL, PARAMS, 'kvajT1Ptam85bY51eRf/AJRuM3w=', TOKEN)).toBe(true);
    expect(verifyTwilioSignature(URL.replace('https', 'http'), PARAMS, '0ZXoZLH/DfblKGATFgpif+LLRf4=', TOKEN)).toBe(true);
  });

  it('handles credentials in the URL and special characters (twilio-node vectors)', () => {
    expect(verifyTwilioSignature('https://user:pass@mycompany.com/myapp.php?foo=1&bar=2', PARAMS, 'CukzLTc1tT5dXEDIHm/tKBanW10=', TOKEN)).toBe(true);
    expect(verifyTwilioSignature('https://user@mycompany.com/myapp.php?foo=1&bar=2', PARAMS, '2YRLlVAflCqxaNicjMpJcSTgzSs=', TOKEN)).toBe(true);
    expect(verifyTwilioSignature('https://user:pass@mycompany.com/myapp.php?foo=1&bar=2', PARAMS, 'ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=', TOKEN)).toBe(true);
    expect(verifyTwilioSignature(`${URL}&Body=It's+amazing`, PARAMS, 'dsq4Ehbj6cs+KdTkpF5sSSplOWw=', TOKEN)).toBe(true);
  });

  it('dedupes and sorts array values (twilio-node vectors)', () => {
    const sig = '83O6e2vORAoJHUNzJjDWN1jz+BA=';
    expect(verifyTwilioSignature(URL, { 'MessagingBinding.Address': ['+1325xxxxxxx', '+1415xxxxxxx'] }, sig, TOKEN)).toBe(true);
    expect(verifyTwilioSignature(URL, { 'MessagingBinding.Address': ['+1415xxxxxxx', '+1325xxxxxxx'] }, sig, TOKEN)).toBe(true);
    expect(verifyTwilioSignature(URL, { Sid: 'CA123', SidAccount: 'AC123', Digits: ['5678', '1234', '1234'] }, 'IK+Dwps556ElfBT0I3Rgjkr1wJU=', TOKEN)).toBe(true);
  });

  it('rejects wrong signatures, tampered params, other URLs, a missing header or an unset token', () => {
    expect(verifyTwilioSignature(URL, PARAMS, 'WRONG_SIGNATURE', TOKEN)).toBe(false);
    expect(verifyTwilioSignature(URL, { ...PARAMS, Digits: '9999' }, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', TOKEN)).toBe(false);
    expect(verifyTwilioSignature(`${URL}&x=1`, PARAMS, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', TOKEN)).toBe(false);
    expect(verifyTwilioSignature(URL, PARAMS, undefined, TOKEN)).toBe(false);
    expect(verifyTwilioSignature(URL, PARAMS, '', TOKEN)).toBe(false);
    expect(verifyTwilioSignature(URL, PARAMS, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', 'other')).toBe(false);
    expect(verifyTwilioSignature(URL, PARAMS, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', '')).toBe(false);
  });

  it('builds port variants without re-encoding the URL', () => {
    expect(urlVariants('https://a.example/x?q=It\'s')).toEqual(['https://a.example/x?q=It\'s', 'https://a.example:443/x?q=It\'s']);
    expect(urlVariants('http://[::1]:8080/cb')).toEqual(['http://[::1]:8080/cb', 'http://[::1]/cb']);
  });
});

// channels.md §4.1 example status callback, as parsed form fields.
const STATUS = {
  AccountSid: 'AC00000000000000000000000000000001',
  ApiVersion: '2010-04-01',
  CallSid: 'CA0000000000000000000000000000abcd',
  CallStatus: 'completed',
  CallDuration: '137',
  Direction: 'inbound',
  From: '+48221234567',
  To: '+48225550100',
};
const opts = { receivedAt: new Date('2026-01-05T09:00:00Z'), defaultRegion: 'PL' };

describe('parseTwilioVoice', () => {
  it('maps a completed call with talk time to call_completed', () => {
    const { messages, skipped } = parseTwilioVoice(STATUS, opts);
    expect(skipped).toEqual([]);
    expect(messages).toEqual([
      {
        channel: 'phone',
        providerMessageId: 'call:CA0000000000000000000000000000abcd:completed',
        kind: 'call_completed',
        sender: { kind: 'phone', address: '+48221234567', displayName: undefined },
        thread: { callId: 'CA0000000000000000000000000000abcd' },
        text: 'Call from +48221234567 (2m 17s)',
        attachments: [],
        sentAt: opts.receivedAt,
        call: { durationSec: 137 },
        providerData: { accountSid: STATUS.AccountSid, direction: 'inbound', callStatus: 'completed', from: '+48221234567', to: '+48225550100' },
      },
    ]);
  });

  it.each(['busy', 'no-answer', 'canceled', 'failed'])('maps %s to call_missed', (status) => {
    const [m] = parseTwilioVoice({ ...STATUS, CallStatus: status, CallDuration: '0' }, opts).messages;
    expect(m).toMatchObject({ kind: 'call_missed', providerMessageId: `call:${STATUS.CallSid}:missed`, text: 'Missed call from +48221234567' });
  });

  it('maps completed with zero duration to call_missed', () => {
    expect(parseTwilioVoice({ ...STATUS, CallDuration: '0' }, opts).messages[0]?.kind).toBe('call_missed');
  });

  it.each(['queued', 'ringing', 'in-progress'])('skips %s', (status) => {
    const result = parseTwilioVoice({ ...STATUS, CallStatus: status }, opts);
    expect(result).toEqual({ messages: [], skipped: [{ reason: `call_${status}`, ref: `call:${STATUS.CallSid}` }] });
  });

  it('uses the called party as the customer on outbound calls and skips unanswered attempts', () => {
    const out = { ...STATUS, Direction: 'outbound-api', From: '+48225550100', To: '0501234567' };
    const [m] = parseTwilioVoice(out, { ...opts, defaultRegion: 'IL' }).messages;
    expect(m).toMatchObject({ sender: { address: '+972501234567' }, text: 'Call to +972501234567 (2m 17s)' });
    expect(parseTwilioVoice({ ...out, CallStatus: 'no-answer' }, opts).skipped[0]?.reason).toBe('outbound_unanswered');
  });

  it('reads the <Dial> outcome: an agent that never answered is a missed call', () => {
    const dial = { ...STATUS, CallStatus: 'in-progress', DialCallStatus: 'no-answer', DialCallSid: 'CA2', RecordingUrl: 'https://api.twilio.com/x' };
    expect(parseTwilioVoice(dial, opts).messages[0]?.kind).toBe('call_missed');
    const answered = { ...dial, DialCallStatus: 'completed', DialCallDuration: '61' };
    expect(parseTwilioVoice(answered, opts).messages[0]).toMatchObject({ kind: 'call_completed', call: { durationSec: 61 } });
  });

  it('threads child legs on the parent call', () => {
    const [m] = parseTwilioVoice({ ...STATUS, ParentCallSid: 'CAparent' }, opts).messages;
    expect(m?.thread.callId).toBe('CAparent');
    expect(m?.providerMessageId).toBe(`call:${STATUS.CallSid}:completed`);
  });

  it('turns a completed recording into a voicemail with an attachment', () => {
    const rec = {
      AccountSid: STATUS.AccountSid,
      CallSid: STATUS.CallSid,
      From: '+48221234567',
      RecordingSid: 'RE0123456789abcdef0123456789abcdef',
      RecordingUrl: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE0123456789abcdef0123456789abcdef',
      RecordingStatus: 'completed',
      RecordingDuration: '32',
      RecordingSource: 'RecordVerb',
    };
    const [m] = parseTwilioVoice(rec, opts).messages;
    expect(m).toMatchObject({
      kind: 'voicemail',
      providerMessageId: 'rec:RE0123456789abcdef0123456789abcdef',
      text: 'Voicemail from +48221234567 (32s)',
      call: { durationSec: 32, recordingUrl: rec.RecordingUrl },
      attachments: [{ filename: 'RE0123456789abcdef0123456789abcdef.wav', contentType: 'audio/wav', size: 0, url: rec.RecordingUrl }],
    });
    const mp3 = parseTwilioVoice({ ...rec, RecordingUrl: `${rec.RecordingUrl}.mp3` }, opts).messages[0];
    expect(mp3?.attachments[0]?.contentType).toBe('audio/mpeg');
    // The <Record> action callback (no RecordingStatus, no RecordingSid) yields the same id.
    const action = { CallSid: STATUS.CallSid, CallStatus: 'in-progress', From: '+48221234567', RecordingUrl: rec.RecordingUrl, RecordingDuration: '32', Digits: '#' };
    expect(parseTwilioVoice(action, opts).messages[0]?.providerMessageId).toBe('rec:RE0123456789abcdef0123456789abcdef');
  });

  it('skips unfinished, empty and conversation recordings', () => {
    const rec = { CallSid: 'CA1', From: '+48221234567', RecordingSid: 'RE1', RecordingUrl: 'https://api.twilio.com/r/RE1' };
    expect(parseTwilioVoice({ ...rec, RecordingStatus: 'absent' }, opts).skipped[0]?.reason).toBe('recording_absent');
    expect(parseTwilioVoice({ ...rec, RecordingDuration: '0' }, opts).skipped[0]?.reason).toBe('empty_recording');
    expect(parseTwilioVoice({ ...rec, RecordingSource: 'DialVerb' }, opts).skipped[0]?.reason).toBe('call_recording');
  });

  it('turns a transcription into a voicemail carrying the words', () => {
    const tr = {
      CallSid: STATUS.CallSid,
      From: '+48221234567',
      TranscriptionSid: 'TR0123',
      TranscriptionStatus: 'completed',
      TranscriptionText: ' Hello, my washing machine is still broken, please call me back. ',
      RecordingSid: 'RE1',
      RecordingUrl: 'https://api.twilio.com/r/RE1',
    };
    const [m] = parseTwilioVoice(tr, opts).messages;
    expect(m).toMatchObject({
      kind: 'voicemail',
      providerMessageId: 'tr:TR0123',
      text: 'Hello, my washing machine is still broken, please call me back.',
      call: { recordingUrl: 'https://api.twilio.com/r/RE1' },
    });
    expect(parseTwilioVoice({ ...tr, TranscriptionStatus: 'failed' }, opts).skipped).toEqual([{ reason: 'transcription_failed', ref: 'tr:TR0123' }]);
  });

  it('gives withheld, client and placeholder callers a per-call anonymous identity', () => {
    for (const from of ['', 'anonymous', '+266696687', 'client:alice', 'sip:bob@pbx.example']) {
      const [m] = parseTwilioVoice({ ...STATUS, From: from, CallDuration: '0' }, opts).messages;
      expect(m?.sender.address).toBe(`anonymous:${STATUS.CallSid}`);
      expect(m?.text).toBe('Missed call from an anonymous caller');
    }
    expect(parseTwilioVoice({ ...STATUS, From: 'client:alice' }, opts).messages[0]?.sender.displayName).toBe('Twilio Client alice');
  });

  it('uses CallerName and Timestamp when Twilio sends them', () => {
    const [m] = parseTwilioVoice({ ...STATUS, CallerName: 'KOWALSKI JAN', Timestamp: 'Mon, 05 Jan 2026 08:59:01 +0000' }, opts).messages;
    expect(m?.sender.displayName).toBe('KOWALSKI JAN');
    expect(m?.sentAt).toEqual(new Date('2026-01-05T08:59:01Z'));
  });

  it('throws InvalidPayloadError for a callback without CallSid or status', () => {
    expect(() => parseTwilioVoice({ CallStatus: 'completed' }, opts)).toThrow(InvalidPayloadError);
    try {
      parseTwilioVoice({ CallSid: 'CA1', From: '+48221234567' }, opts);
    } catch (err) {
      expect((err as InvalidPayloadError).field).toBe('CallStatus');
    }
  });
});

describe('parsePhoneEvent', () => {
  const base = { callId: 'pbx-7781', from: '0501234567', to: '035551234', at: '2026-01-05T08:00:00Z' };
  const il = { receivedAt: new Date('2026-01-05T09:00:00Z'), defaultRegion: 'IL' };

  it('skips ringing', () => {
    expect(parsePhoneEvent({ ...base, event: 'ringing' }, il)).toEqual({ messages: [], skipped: [{ reason: 'call_ringing', ref: 'pbx:pbx-7781:ringing' }] });
  });

  it('maps answered to call_completed with the agent reference', () => {
    const agentId = '3f1c7a52-8d2e-4b7a-9d0e-5a1b2c3d4e5f';
    const [m] = parsePhoneEvent({ ...base, event: 'answered', agentId }, il).messages;
    expect(m).toMatchObject({
      channel: 'phone',
      kind: 'call_completed',
      providerMessageId: 'pbx:pbx-7781:answered',
      sender: { kind: 'phone', address: '+972501234567' },
      thread: { callId: 'pbx-7781' },
      text: 'Call from +972501234567',
      sentAt: new Date('2026-01-05T08:00:00Z'),
      call: { agentRef: agentId },
    });
  });

  it('maps ended by its duration', () => {
    expect(parsePhoneEvent({ ...base, event: 'ended', durationSec: 95 }, il).messages[0]).toMatchObject({ kind: 'call_completed', text: 'Call from +972501234567 (1m 35s)', call: { durationSec: 95 } });
    expect(parsePhoneEvent({ ...base, event: 'ended', durationSec: 0 }, il).messages[0]?.kind).toBe('call_missed');
    expect(parsePhoneEvent({ ...base, event: 'ended' }, il).skipped[0]?.reason).toBe('ended_without_duration');
  });

  it('maps missed to call_missed, except our own unanswered outbound calls', () => {
    expect(parsePhoneEvent({ ...base, event: 'missed' }, il).messages[0]).toMatchObject({ kind: 'call_missed', text: 'Missed call from +972501234567' });
    expect(parsePhoneEvent({ ...base, event: 'missed', direction: 'out' }, il).skipped[0]?.reason).toBe('outbound_unanswered');
    expect(parsePhoneEvent({ ...base, event: 'answered', direction: 'out' }, il).messages[0]?.sender.address).toBe('+97235551234');
  });

  it('maps voicemail, with transcript and recording', () => {
    const [m] = parsePhoneEvent({ ...base, event: 'voicemail', transcript: 'Dzień dobry, proszę o kontakt.', recordingUrl: 'https://pbx.example/rec/7781.mp3', durationSec: 12 }, il).messages;
    expect(m).toMatchObject({
      kind: 'voicemail',
      providerMessageId: 'pbx:pbx-7781:voicemail',
      text: 'Dzień dobry, proszę o kontakt.',
      call: { recordingUrl: 'https://pbx.example/rec/7781.mp3', durationSec: 12 },
      attachments: [{ filename: 'call-pbx-7781.mp3', contentType: 'audio/mpeg', size: 0, url: 'https://pbx.example/rec/7781.mp3' }],
    });
    const bare = parsePhoneEvent({ ...base, event: 'voicemail', recordingUrl: 'https://pbx.example/rec/7781' }, il).messages[0];
    expect(bare?.text).toBe('Voicemail from +972501234567');
    expect(bare?.attachments[0]).toMatchObject({ filename: null, contentType: 'application/octet-stream' });
  });

  it('gives an anonymous caller a per-call identity', () => {
    expect(parsePhoneEvent({ ...base, from: 'anonymous', event: 'missed' }, il).messages[0]?.sender.address).toBe('anonymous:pbx:pbx-7781');
  });

  it('uses the receipt time when `at` is absent', () => {
    const { at: _at, ...noAt } = base;
    expect(parsePhoneEvent({ ...noAt, event: 'answered' }, il).messages[0]?.sentAt).toEqual(il.receivedAt);
  });

  it('rejects invalid bodies naming the field', () => {
    const fieldOf = (body: unknown): string => {
      try {
        parsePhoneEvent(body, il);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidPayloadError);
        return (err as InvalidPayloadError).field;
      }
      throw new Error('expected InvalidPayloadError');
    };
    expect(fieldOf({ ...base, event: 'hangup' })).toBe('event');
    expect(fieldOf({ ...base, event: 'ended', durationSec: -1 })).toBe('durationSec');
    expect(fieldOf({ ...base, event: 'voicemail', recordingUrl: 'not a url' })).toBe('recordingUrl');
    expect(fieldOf({ ...base, event: 'voicemail', recordingUrl: 'javascript:alert(1)' })).toBe('recordingUrl');
    expect(fieldOf({ ...base, event: 'answered', at: 'yesterday' })).toBe('at');
    expect(fieldOf({ event: 'answered', from: '1', to: '2' })).toBe('callId');
    expect(fieldOf('nope')).toBe('(root)');
    expect(phoneEventSchema.safeParse({ ...base, event: 'answered', agentId: 'ext 204' }).success).toBe(true);
  });
});
