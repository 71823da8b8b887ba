import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../modules/auth/api-keys.service.js';
import { LOGIN_PATH, LOGOUT_PATH } from './session.js';

/** HTML text: the page shows only values escaped here (names, messages, the next path). */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface LoginPage {
  next: string | undefined;
  error?: string;
  signedIn?: Principal | null;
  /** Interactive OIDC is configured: the page offers "Sign in with <label>" beside the key form. */
  oidc?: { label: string } | undefined;
}

/** Where "Sign in with …" starts the OIDC sign-in (src/http/oidc-login.ts). */
export const OIDC_START_PATH = '/auth/oidc/start';

/**
 * The sign-in page: one form, no script, no external asset. Its CSP allows only its own inline
 * style (by nonce) and forms posting back here; it may not be framed (clickjacking).
 */
export function sendLoginPage(reply: FastifyReply, status: number, page: LoginPage): FastifyReply {
  const nonce = randomBytes(16).toString('base64');
  const next = page.next ? `<input type="hidden" name="next" value="${escapeHtml(page.next)}">` : '';
  // A link, not a form: the form-action CSP would stop a form's redirect to the provider.
  const sso = page.oidc
    ? `<p class="sso"><a id="oidc-login" class="button" href="${escapeHtml(OIDC_START_PATH + (page.next ? `?next=${encodeURIComponent(page.next)}` : ''))}">Sign in with ${escapeHtml(page.oidc.label)}</a></p>
<p class="or">or with an API key</p>`
    : '';
  const body = page.signedIn
    ? `<p>Signed in as <strong>${escapeHtml(page.signedIn.name)}</strong> (${escapeHtml(page.signedIn.role)}).</p>
<p><a href="/admin/queues/">Queues (Bull Board)</a> · <a href="/ops">Ops wall</a></p>
<form method="post" action="${LOGOUT_PATH}"><button type="submit" id="logout">Sign out</button></form>`
    : `${sso}<form method="post" action="${LOGIN_PATH}">
<label for="key">API key (admin or supervisor)</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
${next}<button type="submit" id="login">Sign in</button>
</form>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign in · complaint-desk</title>
<style nonce="${nonce}">
body{font:16px/1.4 system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1b1b1b}
label{display:block;margin:.5rem 0 .25rem}input{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}
button,.button{margin-top:1rem;padding:.5rem 1rem;font:inherit}
.button{display:inline-block;border:1px solid #1b1b1b;border-radius:3px;background:#f0f0f0;color:#1b1b1b;text-decoration:none}.or{color:#555}.error{color:#a30000;border-left:3px solid #a30000;padding-left:.5rem}
</style></head>
<body><h1>complaint-desk</h1>
${page.error ? `<p class="error" role="alert" id="error">${escapeHtml(page.error)}</p>` : ''}
${body}
</body></html>`;
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    // The form's POST then carries its Origin (no-referrer would make it "null").
    .header('referrer-policy', 'same-origin')
    .header('content-security-policy', `default-src 'none'; style-src 'nonce-${nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`)
    .send(html);
}
