import { z } from 'zod';
import { CHANNELS } from '../../channels/channel.types.js';
import type { Guard } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { MANAGERS } from '../auth/api-keys.models.js';
import { ON_SOLVE, SURVEY_SCOPE_KINDS, type SurveySettingsService } from './survey-settings.service.js';

const tags = ['surveys'];
const scopeInput = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('all') }),
  z.strictObject({ kind: z.literal('channel'), value: z.enum(CHANNELS) }),
  z.strictObject({ kind: z.literal('team'), value: z.uuid() }),
]);
const settingView = z
  .object({
    id: z.uuid(),
    scope: z.object({ kind: z.enum(SURVEY_SCOPE_KINDS), value: z.string().optional() }),
    onSolve: z.enum(ON_SOLVE),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'SurveySetting' });
const body = z.strictObject({
  scope: scopeInput.default({ kind: 'all' }),
  onSolve: z.enum(ON_SOLVE).describe('The survey a solve sends: csat (1-5), ces (1-7), nps (0-10, at most once per customer per 90 days) or off'),
});

/** Survey settings (issue 16): the most specific scope (team, then channel, then all) decides. */
export function registerSurveySettingsRoutes(app: App, deps: { guard: Guard; surveys: SurveySettingsService }): void {
  const { guard, surveys } = deps;
  app.put('/v1/survey-settings', {
    onRequest: guard(MANAGERS),
    schema: {
      tags,
      summary: 'Set which survey a solve sends, for all tickets, a channel or a team',
      description: 'Upserts the setting of the scope: 201 when created, 200 when replaced. The most specific scope wins (team, then channel, then all); with no setting a solve sends CSAT.',
      security: bearerSecurity,
      body,
      response: { 200: settingView, 201: settingView, ...problemResponses() },
    },
    handler: async (request, reply) => {
      const { setting, created } = await surveys.put(request.body);
      return reply.status(created ? 201 : 200).send(setting);
    },
  });
  app.get('/v1/survey-settings', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'List survey settings', description: 'Every scope with a setting.', security: bearerSecurity, response: { 200: z.object({ items: z.array(settingView) }), ...problemResponses() } },
    handler: async () => surveys.list(),
  });
  app.delete('/v1/survey-settings/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Delete a survey setting', description: 'The scope falls back to the next less specific one.', security: bearerSecurity, params: z.object({ id: z.uuid() }), response: { 204: z.null(), ...problemResponses(404) } },
    handler: async (request, reply) => {
      await surveys.delete(request.params.id);
      return reply.status(204).send(null);
    },
  });
}
