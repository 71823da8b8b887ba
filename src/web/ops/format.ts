/**
 * Words, icons and numbers of the operations wall. Every state that has a colour also has an
 * icon and a word (colour is never the only signal), and times show in the viewer's zone.
 */

export const CHANNEL_LABELS: Record<string, string> = { email: '✉ E-mail', phone: '☎ Phone', facebook: 'f Facebook', twitter: 'X' };
export const METRIC_LABELS: Record<string, string> = {
  first_response: 'First response',
  next_response: 'Next response',
  resolution: 'Resolution',
  periodic_update: 'Periodic update',
  commitment: 'Commitment',
};
export const PRIORITY_LABELS: Record<string, string> = { urgent: '‼ Urgent', high: '! High', normal: 'Normal', low: 'Low' };
export const PRESENCE_LABELS: Record<string, string> = { online: '● Online', away: '◐ Away', offline: '○ Offline' };

export const KPI_LABELS: Record<string, string> = {
  first_response_median_sec: 'First response (median)',
  resolution_median_sec: 'Resolution (median)',
  sla_compliance_first_response: 'SLA met: first response',
  sla_compliance_resolution: 'SLA met: resolution',
  fcr_rate: 'First-contact resolution',
  csat_average: 'CSAT average',
  reopen_rate: 'Reopen rate',
  backlog: 'Backlog',
};

export const labelOf = (labels: Record<string, string>, key: string | null | undefined): string => (key == null ? '—' : (labels[key] ?? key));

/** A duration in whole seconds as people read it on a wall: "2 h 05 min", "4 min 07 s", "12 s". */
export function formatDuration(totalSec: number): string {
  const sec = Math.max(0, Math.floor(totalSec));
  const days = Math.floor(sec / 86_400);
  const hours = Math.floor((sec % 86_400) / 3600);
  const minutes = Math.floor((sec % 3600) / 60);
  const seconds = sec % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${two(minutes)} min`;
  if (minutes > 0) return `${minutes} min ${two(seconds)} s`;
  return `${seconds} s`;
}

/** The value of a KPI in its unit: durations, percentages, a score out of 5, a count. */
export function formatKpi(kpi: string, value: number | null): string {
  if (value === null) return 'no data';
  if (kpi.endsWith('_sec')) return formatDuration(value);
  if (kpi === 'csat_average') return `${value.toFixed(2)} / 5`;
  if (kpi === 'backlog') return String(Math.round(value));
  return `${(value * 100).toFixed(1)} %`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** A time of day in the viewer's zone; the date too when it is not today. */
export function formatTime(at: Date, now: Date): string {
  return at.toDateString() === now.toDateString() ? timeFormat.format(at) : dateTimeFormat.format(at);
}

export const viewerTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;
