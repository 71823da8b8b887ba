import type { SlaPolicyData } from '../../domain/sla/sla-policy.js';
import { badRequest } from '../../shared/errors.js';
import { assertOutboundUrl, OutboundUrlError, type OutboundPolicy } from '../../shared/outbound-url.js';

/**
 * Refuses a policy whose escalation would notify a webhook the SSRF guard forbids, with a 400
 * naming the field (body.escalation.<level>.actions.<action>.target.url). The worker checks
 * again when it sends: DNS may change between the two.
 */
export async function assertEscalationWebhooksAllowed(escalation: SlaPolicyData['escalation'], policy: OutboundPolicy): Promise<void> {
  for (const [level, { actions }] of escalation.entries()) {
    for (const [index, action] of actions.entries()) {
      if (action.type !== 'notify' || action.target.kind !== 'webhook') continue;
      try {
        await assertOutboundUrl(action.target.url, policy);
      } catch (error) {
        if (error instanceof OutboundUrlError) throw badRequest(`body.escalation.${level}.actions.${index}.target.url`, error.message);
        throw error;
      }
    }
  }
}
