import type { AdapterDefinition } from '../channel.adapter.js';
import { jsonBody } from '../request-body.js';
import { parsePhoneEvent } from './phone-event.parser.js';
import { createPhoneSender } from './phone.sender.js';

/**
 * Generic PBX / CTI call events as JSON (POST /webhooks/phone/events), authenticated by an
 * integration API key. Owns the phone channel's sender (a callback task, no provider I/O).
 */
export const phoneEventsAdapter: AdapterDefinition = (config) => ({
  channel: 'phone',
  requiredSetting: null,
  configured: true,
  auth: { kind: 'api-key', roles: ['integration', 'admin'] },
  body: { limitBytes: config.BODY_LIMIT_BYTES, contentTypes: ['application/json'] },
  parse: async (request) => parsePhoneEvent(jsonBody(request), { receivedAt: request.receivedAt, defaultRegion: config.DEFAULT_PHONE_REGION }),
  answer: { kind: 'webhook-result' },
  createSender: () => ({ sender: createPhoneSender() }),
});
