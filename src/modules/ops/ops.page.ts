import { escapeHtml, type WebAsset } from './web-assets.js';

export interface PageAssets {
  js: WebAsset;
  css: WebAsset;
}

const head = (title: string, assets: PageAssets, withScript: boolean) => `<!doctype html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/ops/assets/ops.css?v=${assets.css.hash}">
${withScript ? `<script src="/ops/assets/ops.js?v=${assets.js.hash}" defer></script>\n` : ''}</head>`;

const table = (id: string, columns: string[]) =>
  `<div class="scroll"><table aria-labelledby="${id}-title"><thead><tr>${columns.map((c) => `<th scope="col">${c}</th>`).join('')}</tr></thead><tbody id="${id}-body"></tbody></table></div>`;

/**
 * The operations wall's page: the frame only. The script fills the tables from the JSON
 * endpoints and the stream; settings travel in data attributes (the CSP allows no inline script).
 */
export function wallPage(options: { assets: PageAssets; userName: string; role: string; loginUrl: string; logoutUrl: string; streamUrl: string }): string {
  const { assets } = options;
  return `${head('Operations wall · complaint-desk', assets, true)}
<body data-login-url="${escapeHtml(options.loginUrl)}" data-stream-url="${escapeHtml(options.streamUrl)}">
<a class="skip" href="#breaches">Skip to the breaches</a>
<header class="bar">
  <h1>Operations wall</h1>
  <div id="link" role="status" aria-live="polite" data-state="connecting"><span id="link-state">↻ Connecting…</span> <span id="link-since"></span></div>
  <div><span id="clock" aria-label="Time now"></span> <span id="tz"></span></div>
  <button type="button" id="sound" aria-pressed="false">✕ Siren off (M)</button>
  <span class="who">Signed in as <bdi id="user">${escapeHtml(options.userName)}</bdi> (${escapeHtml(options.role)})</span>
  <form method="post" action="${escapeHtml(options.logoutUrl)}"><button type="submit">Sign out</button></form>
</header>
<div id="alarm-banner" role="alert" hidden><span aria-hidden="true">⚠ </span>ALARM: <span id="alarm-text"></span> <span class="skip">siren played <span id="sound-count">0</span> times</span></div>
<main class="wall">
  <div class="column">
    <section class="panel" id="breaches" tabindex="-1">
      <h2 id="breaches-title">⚠ Breaches <span class="count" id="breaches-count"></span></h2>
      ${table('breaches', ['Priority', 'Ticket', 'Customer', 'Channel', 'Metric', 'Late by', 'Level', 'Acknowledged'])}
      <p class="more" id="breaches-more"></p>
      <p class="empty" id="breaches-empty" hidden>✓ No open breaches.</p>
    </section>
    <section class="panel" id="atrisk">
      <h2 id="atrisk-title">At risk, next hour <span class="count" id="atrisk-count"></span></h2>
      ${table('atrisk', ['Due in', 'Ticket', 'Customer', 'Channel', 'Metric', 'Assignee'])}
      <p class="more" id="atrisk-more"></p>
      <p class="empty" id="atrisk-empty" hidden>✓ Nothing due within the hour.</p>
    </section>
  </div>
  <div class="column">
    <section class="panel" id="kpis">
      <h2 id="kpis-title">KPI targets <span class="count">alarms: <span id="alarms-count">0</span></span></h2>
      <ul id="alarms-list" aria-label="Raised alarms"></ul>
      ${table('kpis', ['KPI', 'Now', 'Target', 'Status'])}
      <p class="empty" id="kpis-empty" hidden>No KPI targets set (PUT /v1/kpi-targets).</p>
    </section>
    <section class="panel" id="queues">
      <h2 id="queues-title">Routing queues <span class="count" id="queues-count"></span></h2>
      ${table('queues', ['Team', 'Channel', 'Lang.', 'Waiting', 'Longest', 'SLA due'])}
      <p class="empty" id="queues-empty" hidden>✓ Nobody waiting.</p>
    </section>
    <section class="panel" id="agents">
      <h2 id="agents-title">Agents <span class="count" id="agents-count"></span></h2>
      ${table('agents', ['Agent', 'Presence', '✉ Mail', '☎ Phone', 'f FB', 'X'])}
      <p class="empty" id="agents-empty" hidden>No agent online or away.</p>
    </section>
  </div>
</main>
<dialog id="ack-dialog" aria-labelledby="ack-title">
  <form id="ack-form">
    <h2 id="ack-title">Acknowledge</h2>
    <label for="ack-note">Note (optional: who is on it, what happens next)</label>
    <textarea id="ack-note" maxlength="2000"></textarea>
    <p id="ack-error" role="alert"></p>
    <div class="actions"><button type="button" id="ack-cancel">Cancel (Esc)</button><button type="submit" id="ack-submit">✓ Acknowledge</button></div>
  </form>
</dialog>
</body>
</html>
`;
}

/** What a signed-in person whose role may not see the wall gets: a page, not data. */
export function forbiddenPage(options: { assets: PageAssets; userName: string; role: string; logoutUrl: string }): string {
  return `${head('Not allowed · Operations wall', options.assets, false)}
<body>
<main class="message">
  <h1>⚠ This page is for supervisors and admins</h1>
  <p>You are signed in as <bdi>${escapeHtml(options.userName)}</bdi>, with the role <strong>${escapeHtml(options.role)}</strong>. The operations wall shows every team's breaches and KPIs, so it needs a supervisor's or an admin's sign-in.</p>
  <form method="post" action="${escapeHtml(options.logoutUrl)}"><button type="submit">Sign out and sign in as someone else</button></form>
</main>
</body>
</html>
`;
}
