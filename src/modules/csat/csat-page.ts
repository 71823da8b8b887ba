import type { FastifyReply, FastifyRequest } from 'fastify';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { problemResponses, type App } from '../../http/types.js';
import { AppError } from '../../shared/errors.js';
import { escapeHtml, PAGE_CSP, type WebAsset, type WebAssetKind, type WebAssets } from '../ops/web-assets.js';
import { pickLanguage, SURVEY_TEXTS, type SurveyKind, type SurveyTexts } from './csat-page.texts.js';
import { hashToken, type CsatService } from './csat.service.js';
import { csatSurveys } from './csat.table.js';

/** A browser opening the survey link asks for HTML; API clients (Accept: application/json, or none) get JSON. */
export const wantsHtml = (request: FastifyRequest): boolean => /\btext\/html\b/i.test(request.headers.accept ?? '');

type Outcome = 'open' | 'answered' | 'expired' | 'notFound';

/**
 * The customer's survey page (issue 14): the link the customer got opens a small page in the
 * survey's language, with the score buttons and a comment box; its script posts to the same
 * URL's JSON API. A used, expired or unknown link gets a friendly page instead of a problem
 * body. No external assets, strict CSP, never cached (the URL holds the credential).
 */
export function createCsatPage(deps: { db: Database; csat: CsatService; assets: WebAssets }) {
  const { db, csat, assets } = deps;

  async function languageOf(token: string): Promise<string | null> {
    const [row] = await db.select({ language: csatSurveys.language }).from(csatSurveys).where(eq(csatSurveys.tokenHash, hashToken(token)));
    return row?.language ?? null;
  }

  return {
    /** Answers the page for `token` (null: a malformed link). */
    async reply(request: FastifyRequest, reply: FastifyReply, token: string | null): Promise<FastifyReply> {
      const bundle = await assets.get('csat');
      let outcome: Outcome = 'notFound';
      let survey: Awaited<ReturnType<CsatService['read']>> | null = null;
      if (token) {
        try {
          survey = await csat.read(token);
          outcome = survey.answered ? 'answered' : survey.expired ? 'expired' : 'open';
        } catch (error) {
          if (!(error instanceof AppError && error.status === 404)) throw error;
        }
      }
      const language = pickLanguage(token && survey ? await languageOf(token) : null, request.headers['accept-language']);
      const texts = SURVEY_TEXTS[language];
      const html =
        outcome === 'open' && survey
          ? surveyPage(language, texts, bundle, { ticketNumber: survey.ticketNumber, scale: survey.scale, kind: kindOf(survey) })
          : messagePage(language, texts, bundle, texts[outcome === 'open' ? 'notFound' : outcome]);
      const status = { open: 200, answered: 200, expired: 410, notFound: 404 }[outcome];
      return reply
        .status(status)
        .header('content-security-policy', PAGE_CSP)
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('content-language', language)
        .type('text/html; charset=utf-8')
        .send(html);
    },
  };
}

export type CsatPage = ReturnType<typeof createCsatPage>;

/** Survey kinds beyond CSAT (issue 16) carry their kind; a plain CSAT survey may not say. */
function kindOf(survey: object): SurveyKind {
  const kind = (survey as { kind?: unknown }).kind;
  return kind === 'ces' || kind === 'nps' ? kind : 'csat';
}

const head = (language: string, texts: SurveyTexts, title: string, bundle: Record<WebAssetKind, WebAsset>, withScript: boolean) => `<!doctype html>
<html lang="${language}" dir="${texts.dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/csat/assets/csat.css?v=${bundle.css.hash}">
${withScript ? `<script src="/csat/assets/csat.js?v=${bundle.js.hash}" defer></script>\n` : ''}</head>`;

function surveyPage(language: string, texts: SurveyTexts, bundle: Record<WebAssetKind, WebAsset>, survey: { ticketNumber: number; scale: { min: number; max: number }; kind: SurveyKind }): string {
  const question = texts.question[survey.kind];
  const scores: string[] = [];
  for (let n = survey.scale.min; n <= survey.scale.max; n++) {
    const label = `${texts.score(n, survey.scale.max)}${n === survey.scale.min ? `: ${question.low}` : n === survey.scale.max ? `: ${question.high}` : ''}`;
    scores.push(`<button type="button" class="score" data-score="${n}" aria-pressed="false" aria-label="${escapeHtml(label)}">${n}</button>`);
  }
  const intro = escapeHtml(texts.intro).replace('{ticket}', `<bdi dir="ltr">#${survey.ticketNumber}</bdi>`);
  return `${head(language, texts, texts.title, bundle, true)}
<body data-choose-first="${escapeHtml(texts.chooseFirst)}" data-error="${escapeHtml(texts.error)}">
<main class="card">
  <section id="survey">
    <h1>${escapeHtml(texts.title)}</h1>
    <p>${intro}</p>
    <form id="survey-form" novalidate>
      <fieldset>
        <legend id="question">${escapeHtml(question.text)}</legend>
        <div class="scale${survey.scale.max - survey.scale.min > 6 ? ' wide' : ''}" role="group" aria-labelledby="question">${scores.join('')}</div>
        <div class="ends" aria-hidden="true"><span>${escapeHtml(question.low)}</span><span>${escapeHtml(question.high)}</span></div>
      </fieldset>
      <label for="comment">${escapeHtml(texts.comment)}</label>
      <textarea id="comment" name="comment" maxlength="5000" dir="auto" rows="4"></textarea>
      <p id="message" role="alert"></p>
      <button type="submit" id="send" class="send">${escapeHtml(texts.submit)}</button>
    </form>
    <noscript><p class="notice">${escapeHtml(texts.noscript)}</p></noscript>
  </section>
  ${section('done', texts.thanks, '✓')}
  ${section('answered', texts.answered, '✓')}
  ${section('expired', texts.expired, '⌛')}
</main>
</body>
</html>
`;
}

const section = (id: string, [title, body]: [string, string], icon: string, hidden = true) =>
  `<section id="${id}" class="outcome"${hidden ? ' hidden' : ''}><h1><span aria-hidden="true">${icon} </span>${escapeHtml(title)}</h1><p>${escapeHtml(body)}</p></section>`;

function messagePage(language: string, texts: SurveyTexts, bundle: Record<WebAssetKind, WebAsset>, message: [string, string]): string {
  return `${head(language, texts, message[0], bundle, false)}
<body>
<main class="card">
  ${section('outcome', message, message === texts.expired ? '⌛' : message === texts.notFound ? '?' : '✓', false)}
</main>
</body>
</html>
`;
}

/** The page's script and style sheet, public (they hold no data). */
export function registerCsatPageAssets(app: App, assets: WebAssets): void {
  app.get('/csat/assets/:file', {
    schema: {
      tags: ['csat'],
      summary: "The survey page's script and style sheet (no data; long-cached when asked for with their version)",
      params: z.object({ file: z.enum(['csat.js', 'csat.css']).describe('csat.js or csat.css') }),
      querystring: z.object({ v: z.string().max(64).optional().describe('The version the page references; a matching one is cached for a year') }),
      produces: ['text/javascript', 'text/css'],
      response: { 200: z.string().describe('The script or the style sheet'), ...problemResponses(404) },
    },
    handler: async (request, reply) => {
      const bundle = await assets.get('csat');
      const asset = bundle[request.params.file.split('.')[1] as WebAssetKind];
      void reply.header('cache-control', request.query.v === asset.hash ? 'public, max-age=31536000, immutable' : 'no-cache');
      // A Buffer goes out as it is (the zod serializer only sees JSON answers).
      return reply.type(asset.contentType).send(asset.body as unknown as string);
    },
  });
}
