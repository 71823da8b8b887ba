import { byId, h, isolated, setText } from '../shared/dom.js';
import { ApiError, type Api } from './api.js';
import { CHANNEL_LABELS, formatDuration, formatKpi, formatTime, KPI_LABELS, labelOf, METRIC_LABELS, PRESENCE_LABELS, PRIORITY_LABELS } from './format.js';
import type { Siren } from './siren.js';
import type { LinkState, StreamMessage } from './stream.js';
import type { AlarmRow, AtRiskRow, BreachRow, KpiSnapshot, RoutingSnapshot, WallSnapshot } from './types.js';

/** Rows each list shows; the rest are counted ("+ 950 more"). The server caps at the same number. */
export const ROWS = 30;
const AT_RISK_WITHIN = '1h';
/** Safety nets: the stream says when breaches change; presence and KPIs change without an event. */
const WALL_REFRESH_MS = 15_000;
const ROUTING_REFRESH_MS = 10_000;
const KPI_REFRESH_MS = 60_000;
/** Stream events arriving together cost one reload of the lists, at most this often. */
const COALESCE_MS = 250;
/** A clock difference with the server smaller than this is network noise, not a wrong clock. */
const SKEW_TOLERANCE_MS = 1_500;
const FLASH_MS = 12_000;

type Section = 'breaches' | 'atRisk' | 'kpis' | 'routing' | 'link';

/**
 * A reload that runs at most once at a time: asked again while running, it runs once more
 * afterwards (never twice in parallel, never losing a request), no sooner than `gapMs` apart.
 */
function coalesced(run: () => Promise<void>, gapMs: number): () => void {
  let running = false;
  let again = false;
  let timer: number | undefined;
  const start = () => {
    timer = undefined;
    running = true;
    again = false;
    void run()
      .catch(() => undefined)
      .finally(() => {
        running = false;
        if (again) timer = window.setTimeout(start, gapMs);
      });
  };
  return () => {
    if (running || timer !== undefined) {
      again = true;
      return;
    }
    timer = window.setTimeout(start, gapMs);
  };
}

/**
 * The operations wall: state from the JSON endpoints, changes from the stream, drawn in one
 * animation frame per batch of changes (a flood of events costs one draw per frame, not one per
 * event), countdowns ticking every second from the server's clock.
 */
export class Wall {
  #snapshot: WallSnapshot | null = null;
  #kpis: KpiSnapshot | null = null;
  #routing: RoutingSnapshot | null = null;
  #teams = new Map<string, string>();
  /** Server time minus this screen's time. */
  #offsetMs = 0;
  #link: { state: LinkState; since: Date | null } = { state: 'connecting', since: null };
  #dirty = new Set<Section>();
  #frame: number | null = null;
  #breachRows = new Map<string, HTMLTableRowElement>();
  #atRiskRows = new Map<string, HTMLTableRowElement>();
  #knownAlarms = new Set<string>();
  #flashUntil = 0;
  #bannerAlarm: string | null = null;
  #bannerAt = 0;
  #ackTarget: BreachRow | null = null;

  readonly refreshWall = coalesced(() => this.#loadWall(), COALESCE_MS);
  readonly refreshKpis = coalesced(() => this.#loadKpis(), COALESCE_MS);
  readonly refreshRouting = coalesced(() => this.#loadRouting(), COALESCE_MS);

  constructor(
    private readonly api: Api,
    private readonly siren: Siren,
  ) {}

  start(): void {
    this.#wireAckDialog();
    void this.#loadWall();
    void this.#loadKpis();
    void this.#loadRouting();
    window.setInterval(() => this.refreshWall(), WALL_REFRESH_MS);
    window.setInterval(() => this.refreshRouting(), ROUTING_REFRESH_MS);
    window.setInterval(() => this.refreshKpis(), KPI_REFRESH_MS);
    window.setInterval(() => this.#tick(), 1000);
    this.#tick();
  }

  now(): Date {
    return new Date(Date.now() + this.#offsetMs);
  }

  // ------------------------------------------------------------------ loading

  #adjustClock(serverNow: string, sentAt: number, receivedAt: number): void {
    const estimate = Date.parse(serverNow) - (sentAt + receivedAt) / 2;
    if (Math.abs(estimate - this.#offsetMs) > SKEW_TOLERANCE_MS) this.#offsetMs = Math.abs(estimate) > SKEW_TOLERANCE_MS ? estimate : 0;
  }

  async #loadWall(): Promise<void> {
    const sentAt = Date.now();
    const snapshot = await this.api.get<WallSnapshot>(`/ops/api/wall?limit=${ROWS}&within=${AT_RISK_WITHIN}`);
    this.#adjustClock(snapshot.now, sentAt, Date.now());
    this.#snapshot = snapshot;
    this.#teams = new Map(snapshot.teams.map((t) => [t.id, t.name]));
    this.#mark('breaches', 'atRisk', 'routing');
  }

  async #loadKpis(): Promise<void> {
    const sentAt = Date.now();
    const kpis = await this.api.get<KpiSnapshot>('/ops/api/kpis');
    // An alarm cleared while no one listened: a list read after the banner went up no longer has it.
    if (this.#bannerAlarm && sentAt > this.#bannerAt && !kpis.alarms.some((a) => a.id === this.#bannerAlarm)) this.#hideBanner();
    const fresh = kpis.alarms.filter((a) => !this.#knownAlarms.has(a.id));
    // Alarms already raised when the page opened are shown, not sounded; later ones are.
    if (this.#kpis && fresh.length) this.#alert(fresh[0]!);
    for (const alarm of kpis.alarms) this.#knownAlarms.add(alarm.id);
    this.#kpis = kpis;
    this.#mark('kpis');
  }

  async #loadRouting(): Promise<void> {
    this.#routing = await this.api.get<RoutingSnapshot>('/ops/api/routing');
    this.#mark('routing');
  }

  /** Every list again (after a reconnect: catch up on what happened while the link was down). */
  reloadAll(): void {
    this.refreshWall();
    this.refreshKpis();
    this.refreshRouting();
  }

  // ------------------------------------------------------------------ live changes

  setLink(state: LinkState, since: Date | null): void {
    this.#link = { state, since: state === 'live' ? null : (this.#link.since ?? since) };
    this.#mark('link');
  }

  onStreamMessage(message: StreamMessage): void {
    const data = message.data;
    switch (message.type) {
      case 'breach':
        // The clock leaves the at-risk list at once; the breach row comes with the reload.
        if (this.#snapshot) {
          this.#snapshot.atRisk.items = this.#snapshot.atRisk.items.filter((r) => !(r.ticketId === data.ticketId && r.metric === data.metric));
          this.#mark('atRisk');
        }
        this.refreshWall();
        break;
      case 'acknowledged': {
        // Someone else acknowledged: the row changes in place, the reload brings the name.
        const row = this.#snapshot?.breaches.items.find((b) => b.id === data.breachId);
        if (row && row.state === 'open') {
          row.state = 'acknowledged';
          row.acknowledgedAt = typeof data.at === 'string' ? data.at : this.now().toISOString();
          this.#mark('breaches');
        }
        this.refreshWall();
        break;
      }
      case 'resolved':
        if (this.#snapshot) {
          this.#snapshot.breaches.items = this.#snapshot.breaches.items.filter((b) => b.id !== data.breachId);
          this.#mark('breaches');
        }
        this.refreshWall();
        break;
      case 'warning':
      case 'escalation':
        this.refreshWall();
        break;
      case 'alarm_raised':
        this.#alert({
          id: String(data.alarmId),
          targetId: String(data.targetId),
          kpi: String(data.kpi),
          scope: (data.scope as AlarmRow['scope'] | undefined) ?? { kind: 'all' },
          threshold: Number(data.threshold),
          direction: data.direction === 'below' ? 'below' : 'above',
          value: typeof data.value === 'number' ? data.value : null,
          lastValue: typeof data.value === 'number' ? data.value : null,
          raisedAt: typeof data.raisedAt === 'string' ? data.raisedAt : this.now().toISOString(),
        });
        this.refreshKpis();
        break;
      case 'alarm_cleared':
        // Back within target: the alarm leaves the list, and the banner if it was this one.
        if (this.#kpis) {
          this.#kpis.alarms = this.#kpis.alarms.filter((a) => a.id !== data.alarmId);
          this.#mark('kpis');
        }
        if (this.#bannerAlarm === data.alarmId) this.#hideBanner();
        this.refreshKpis();
        break;
      case 'agent_assigned':
      case 'agent_unassigned':
        this.refreshRouting();
        break;
    }
  }

  #alert(alarm: AlarmRow): void {
    if (this.#knownAlarms.has(alarm.id)) return;
    this.#knownAlarms.add(alarm.id);
    if (this.#kpis && !this.#kpis.alarms.some((a) => a.id === alarm.id)) this.#kpis.alarms.unshift(alarm);
    this.#flashUntil = Date.now() + FLASH_MS;
    this.siren.sound();
    this.#bannerAlarm = alarm.id;
    this.#bannerAt = Date.now();
    const banner = byId('alarm-banner');
    banner.hidden = false;
    setText(byId('alarm-text'), `${labelOf(KPI_LABELS, alarm.kpi)} ${scopeText(alarm.scope, this.#teams)} is ${formatKpi(alarm.kpi, alarm.value)}, ${alarm.direction} the target of ${formatKpi(alarm.kpi, alarm.threshold)}`);
    banner.classList.add('flash');
    byId('sound-count').textContent = String(this.siren.played);
    this.#mark('kpis');
  }

  // ------------------------------------------------------------------ drawing

  #mark(...sections: Section[]): void {
    for (const s of sections) this.#dirty.add(s);
    if (this.#frame === null) this.#frame = window.requestAnimationFrame(() => this.#draw());
  }

  #draw(): void {
    this.#frame = null;
    const dirty = new Set(this.#dirty);
    this.#dirty.clear();
    if (dirty.has('breaches')) this.#drawBreaches();
    if (dirty.has('atRisk')) this.#drawAtRisk();
    if (dirty.has('kpis')) this.#drawKpis();
    if (dirty.has('routing')) this.#drawRouting();
    if (dirty.has('link')) this.#drawLink();
    this.#tick();
  }

  /** Every second: the clock, the countdowns, the lateness, the alarm flash. */
  #tick(): void {
    const now = this.now();
    setText(byId('clock'), formatTime(now, now));
    for (const cell of document.querySelectorAll<HTMLElement>('[data-due]')) {
      const remaining = (Date.parse(cell.dataset.due!) - now.getTime()) / 1000;
      const row = cell.closest('tr');
      if (cell.dataset.mode === 'late') {
        setText(cell, formatDuration(-remaining));
      } else if (remaining <= 0) {
        setText(cell, '⚠ due now');
        row?.classList.add('due');
      } else {
        setText(cell, `in ${formatDuration(Math.ceil(remaining))}`);
        row?.classList.toggle('soon', remaining <= 300);
      }
    }
    if (this.#flashUntil && Date.now() > this.#flashUntil) {
      this.#flashUntil = 0;
      byId('alarm-banner').classList.remove('flash');
    }
    if (this.#link.state !== 'live' && this.#link.since) {
      setText(byId('link-since'), `for ${formatDuration((Date.now() - this.#link.since.getTime()) / 1000)}`);
    }
  }

  #drawLink(): void {
    const box = byId('link');
    box.dataset.state = this.#link.state;
    const label = { connecting: '↻ Connecting…', live: '● Live', reconnecting: '↻ Reconnecting…' }[this.#link.state];
    setText(byId('link-state'), label);
    setText(byId('link-since'), '');
  }

  #drawBreaches(): void {
    const snapshot = this.#snapshot;
    if (!snapshot) return;
    const { items, total, open, acknowledged } = snapshot.breaches;
    const body = byId('breaches-body');
    const seen = new Set<string>();
    let previous: Element | null = null;
    for (const breach of items) {
      seen.add(breach.id);
      let row = this.#breachRows.get(breach.id);
      if (!row) {
        row = this.#breachRow(breach);
        this.#breachRows.set(breach.id, row);
      }
      this.#updateBreachRow(row, breach);
      // Keep the order without rebuilding: move a row only when it is out of place.
      const expected: Element | null = previous ? previous.nextElementSibling : body.firstElementChild;
      if (expected !== row) body.insertBefore(row, expected);
      previous = row;
    }
    for (const [id, row] of this.#breachRows) {
      if (seen.has(id)) continue;
      row.remove();
      this.#breachRows.delete(id);
    }
    setText(byId('breaches-count'), `${total} (${open} open, ${acknowledged} acknowledged)`);
    const rest = total - items.length;
    setText(byId('breaches-more'), rest > 0 ? `+ ${rest} more not shown (most severe and newest are above)` : '');
    byId('breaches-empty').hidden = total > 0;
  }

  #breachRow(breach: BreachRow): HTMLTableRowElement {
    const row = h(
      'tr',
      { 'data-id': breach.id },
      h('td', { class: 'severity' }),
      h('td', { class: 'ticket' }, `#${breach.ticketNumber}`),
      h('td', { class: 'customer' }, isolated(breach.customerName ?? '—', 'name')),
      h('td', { class: 'channel' }),
      h('td', { class: 'metric' }),
      h('td', { class: 'late', 'data-due': breach.dueAt, 'data-mode': 'late' }),
      h('td', { class: 'level' }),
      h('td', { class: 'ack' }),
    );
    return row;
  }

  #updateBreachRow(row: HTMLTableRowElement, breach: BreachRow): void {
    const cells = row.cells;
    row.dataset.state = breach.state;
    row.dataset.severity = String(breach.severity);
    setText(cells[0]!, labelOf(PRIORITY_LABELS, breach.priority));
    setText(cells[3]!, labelOf(CHANNEL_LABELS, breach.channel));
    setText(cells[4]!, labelOf(METRIC_LABELS, breach.metric));
    cells[5]!.title = `due ${formatTime(new Date(breach.dueAt), this.now())}, breached ${formatTime(new Date(breach.breachedAt), this.now())}`;
    setText(cells[6]!, breach.escalationLevel > 0 ? `⇧ ${breach.escalationLevel}` : '–');
    const ack = cells[7]!;
    const key = `${breach.state}|${breach.acknowledgedBy ?? ''}|${breach.ackNote ?? ''}`;
    if (ack.dataset.key === key) return;
    ack.dataset.key = key;
    const hadFocus = ack.contains(document.activeElement);
    ack.replaceChildren();
    if (breach.state === 'open') {
      const button = h('button', { type: 'button', class: 'ack-button' }, 'Acknowledge…');
      button.setAttribute('aria-label', `Acknowledge the breach of ticket #${breach.ticketNumber}`);
      button.addEventListener('click', () => this.#openAck(breach.id));
      ack.append(button);
    } else {
      ack.append(h('span', { class: 'acked' }, '✓ '), isolated(breach.acknowledgedBy ?? 'acknowledged', 'name'));
      if (breach.ackNote) ack.append(h('span', { class: 'note' }, ' — ', isolated(breach.ackNote)));
      ack.tabIndex = -1;
      if (hadFocus) ack.focus();
    }
  }

  #drawAtRisk(): void {
    const snapshot = this.#snapshot;
    if (!snapshot) return;
    const { items, total } = snapshot.atRisk;
    const body = byId('atrisk-body');
    const seen = new Set<string>();
    let previous: Element | null = null;
    for (const item of items) {
      seen.add(item.clockId);
      let row = this.#atRiskRows.get(item.clockId);
      if (!row) {
        row = this.#atRiskRow(item);
        this.#atRiskRows.set(item.clockId, row);
      }
      const due = row.cells[0]!;
      if (due.dataset.due !== item.dueAt) due.dataset.due = item.dueAt;
      setText(row.cells[5]!, item.assigneeName ?? 'unassigned');
      const expected: Element | null = previous ? previous.nextElementSibling : body.firstElementChild;
      if (expected !== row) body.insertBefore(row, expected);
      previous = row;
    }
    for (const [id, row] of this.#atRiskRows) {
      if (seen.has(id)) continue;
      row.remove();
      this.#atRiskRows.delete(id);
    }
    // The list shrinks at once when a clock breaches; the count follows the reload.
    setText(byId('atrisk-count'), String(Math.max(total, items.length)));
    const rest = total - items.length;
    setText(byId('atrisk-more'), rest > 0 ? `+ ${rest} more due later` : '');
    byId('atrisk-empty').hidden = items.length > 0;
  }

  #atRiskRow(item: AtRiskRow): HTMLTableRowElement {
    return h(
      'tr',
      { 'data-id': item.clockId },
      h('td', { class: 'countdown', 'data-due': item.dueAt }),
      h('td', { class: 'ticket' }, `#${item.ticketNumber}`),
      h('td', { class: 'customer' }, isolated(item.customerName ?? '—', 'name')),
      h('td', { class: 'channel' }, labelOf(CHANNEL_LABELS, item.channel)),
      h('td', { class: 'metric' }, labelOf(METRIC_LABELS, item.metric)),
      h('td', { class: 'assignee' }),
    );
  }

  #drawKpis(): void {
    const kpis = this.#kpis;
    if (!kpis) return;
    const body = byId('kpis-body');
    const alarmed = new Set(kpis.alarms.map((a) => a.targetId));
    body.replaceChildren(
      ...kpis.targets.map((t) => {
        const raised = alarmed.has(t.id);
        const status = raised ? '⚠ ALARM' : t.value === null ? '– No data' : t.offTarget ? '⚠ Off target' : '✓ On target';
        return h(
          'tr',
          { 'data-state': raised ? 'alarm' : t.value === null ? 'none' : t.offTarget ? 'off' : 'ok' },
          h('td', {}, labelOf(KPI_LABELS, t.kpi), h('span', { class: 'scope' }, ` ${scopeText(t.scope, this.#teams)}, last ${t.windowHours} h`)),
          h('td', { class: 'value' }, formatKpi(t.kpi, t.value)),
          h('td', {}, `${t.direction === 'above' ? '≤' : '≥'} ${formatKpi(t.kpi, t.threshold)}`),
          h('td', { class: 'status' }, status),
        );
      }),
    );
    byId('kpis-empty').hidden = kpis.targets.length > 0;
    const list = byId('alarms-list');
    list.replaceChildren(
      ...kpis.alarms.map((a) =>
        h(
          'li',
          { 'data-alarm': a.id },
          `⚠ ${labelOf(KPI_LABELS, a.kpi)} ${scopeText(a.scope, this.#teams)}: ${formatKpi(a.kpi, a.lastValue ?? a.value)} (target ${a.direction === 'above' ? '≤' : '≥'} ${formatKpi(a.kpi, a.threshold)}), since ${formatTime(new Date(a.raisedAt), this.now())}`,
        ),
      ),
    );
    setText(byId('alarms-count'), String(kpis.alarms.length));
  }

  #hideBanner(): void {
    this.#bannerAlarm = null;
    this.#flashUntil = 0;
    const banner = byId('alarm-banner');
    banner.hidden = true;
    banner.classList.remove('flash');
  }

  #drawRouting(): void {
    const routing = this.#routing;
    if (!routing) return;
    const now = this.now();
    const teamName = (id: string | null) => (id ? (this.#teams.get(id) ?? 'team') : 'Default queue');
    byId('queues-body').replaceChildren(
      ...routing.queues
        .slice()
        .sort((a, b) => b.longestWaitSec - a.longestWaitSec)
        .slice(0, ROWS)
        .map((q) =>
          h(
            'tr',
            {},
            h('td', {}, isolated(teamName(q.teamId))),
            h('td', {}, labelOf(CHANNEL_LABELS, q.channel)),
            h('td', {}, q.language ?? 'any'),
            h('td', { class: 'num' }, String(q.waiting)),
            h('td', { class: 'num' }, formatDuration(q.longestWaitSec)),
            h('td', {}, q.soonestDueAt ? formatTime(new Date(q.soonestDueAt), now) : '–'),
          ),
        ),
    );
    const waiting = routing.queues.reduce((sum, q) => sum + q.waiting, 0);
    setText(byId('queues-count'), `${waiting} waiting`);
    byId('queues-empty').hidden = routing.queues.length > 0;
    const order: Record<string, number> = { online: 0, away: 1, offline: 2 };
    const agents = routing.agents.slice().sort((a, b) => (order[a.presence] ?? 3) - (order[b.presence] ?? 3) || a.name.localeCompare(b.name));
    const shown = agents.filter((a) => a.presence !== 'offline').slice(0, ROWS);
    const channels = ['email', 'phone', 'facebook', 'twitter'] as const;
    byId('agents-body').replaceChildren(
      ...shown.map((a) =>
        h(
          'tr',
          { 'data-presence': a.presence },
          h('td', { class: 'customer' }, isolated(a.name, 'name')),
          h('td', { class: 'presence' }, labelOf(PRESENCE_LABELS, a.presence)),
          ...channels.map((c) => {
            const full = a.capacity[c] > 0 && a.load[c] >= a.capacity[c];
            return h('td', { class: full ? 'num full' : 'num' }, `${a.load[c]}/${a.capacity[c]}${full ? ' ■' : ''}`);
          }),
        ),
      ),
    );
    const count = (p: string) => agents.filter((a) => a.presence === p).length;
    setText(byId('agents-count'), `${count('online')} online, ${count('away')} away, ${count('offline')} offline`);
    byId('agents-empty').hidden = shown.length > 0;
  }

  // ------------------------------------------------------------------ acknowledging

  #wireAckDialog(): void {
    const dialog = byId<HTMLDialogElement>('ack-dialog');
    const form = byId<HTMLFormElement>('ack-form');
    byId('ack-cancel').addEventListener('click', () => dialog.close());
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#submitAck();
    });
  }

  #openAck(breachId: string): void {
    const breach = this.#snapshot?.breaches.items.find((b) => b.id === breachId);
    if (!breach) return;
    this.#ackTarget = breach;
    setText(byId('ack-title'), `Acknowledge: ticket #${breach.ticketNumber}, ${labelOf(METRIC_LABELS, breach.metric)}`);
    setText(byId('ack-error'), '');
    const note = byId<HTMLTextAreaElement>('ack-note');
    note.value = '';
    byId<HTMLDialogElement>('ack-dialog').showModal();
    note.focus();
  }

  async #submitAck(): Promise<void> {
    const breach = this.#ackTarget;
    if (!breach) return;
    const note = byId<HTMLTextAreaElement>('ack-note').value.trim();
    const submit = byId<HTMLButtonElement>('ack-submit');
    submit.disabled = true;
    try {
      const updated = await this.api.post<BreachRow>(`/ops/api/breaches/${breach.id}/ack`, note ? { note } : {});
      const row = this.#snapshot?.breaches.items.find((b) => b.id === breach.id);
      if (row) {
        row.state = updated.state;
        row.acknowledgedAt = updated.acknowledgedAt;
        row.ackNote = updated.ackNote;
        row.acknowledgedBy = byId('user').textContent || updated.acknowledgedBy;
      }
      byId<HTMLDialogElement>('ack-dialog').close();
      this.#mark('breaches');
      this.refreshWall();
      // Focus stays where the person was: on the row just acknowledged.
      requestAnimationFrame(() => this.#breachRows.get(breach.id)?.cells[7]?.focus());
    } catch (error) {
      setText(byId('ack-error'), `⚠ Not acknowledged: ${error instanceof ApiError ? error.message : 'the service did not answer'}`);
    } finally {
      submit.disabled = false;
    }
  }
}

function scopeText(scope: { kind: string; value?: string }, teams: Map<string, string>): string {
  if (scope.kind === 'channel') return `(${labelOf(CHANNEL_LABELS, scope.value)})`;
  if (scope.kind === 'team') return `(${(scope.value && teams.get(scope.value)) ?? 'team'})`;
  return '(all)';
}
