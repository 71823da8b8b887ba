import { clip, mergeIntervals, subtract, totalMs, type Interval } from './intervals.js';

/**
 * Agent figures over [from, to) from the presence timeline and the agent's work (issue 16), pure.
 *   logged in = online + away;  available = online;
 *   handling = the agent's work intervals (handling and after-work, any ticket) merged: two
 *     tickets worked at once count once;
 *   available idle = online time not handling;
 *   occupancy = handling / (handling + available idle);  utilization = handling / logged in.
 * A presence timeline is the agent's status changes in time order, with the status in force at
 * `from` (the last change before it; offline when there is none).
 */
export type PresenceStatus = 'online' | 'away' | 'offline';

export interface PresenceChange {
  status: PresenceStatus | string;
  at: number;
}

export interface AgentFigures {
  loggedInSec: number;
  availableSec: number;
  awaySec: number;
  handlingSec: number;
  idleSec: number;
  occupancy: number | null;
  utilization: number | null;
}

/** The time in each status within [from, to). */
export function presenceIntervals(statusAtFrom: string, changes: readonly PresenceChange[], from: number, to: number): Record<PresenceStatus, Interval[]> {
  const out: Record<PresenceStatus, Interval[]> = { online: [], away: [], offline: [] };
  let status = statusAtFrom;
  let since = from;
  const close = (until: number) => {
    if (until > since && (status === 'online' || status === 'away' || status === 'offline')) out[status].push({ start: since, end: until });
  };
  for (const change of [...changes].sort((a, b) => a.at - b.at)) {
    if (change.at < from) {
      status = change.status;
      continue;
    }
    if (change.at >= to) break;
    close(change.at);
    status = change.status;
    since = change.at;
  }
  close(to);
  return { online: mergeIntervals(out.online), away: mergeIntervals(out.away), offline: mergeIntervals(out.offline) };
}

const ratio = (num: number, den: number): number | null => (den === 0 ? null : num / den);

export function agentFigures(presence: Record<PresenceStatus, Interval[]>, work: readonly Interval[], from: number, to: number): AgentFigures {
  const online = clip(presence.online, from, to);
  const away = clip(presence.away, from, to);
  const busy = mergeIntervals(clip(work, from, to));
  const idle = subtract(online, busy);
  const loggedIn = totalMs(online) + totalMs(away);
  const handling = totalMs(busy);
  return {
    loggedInSec: loggedIn / 1000,
    availableSec: totalMs(online) / 1000,
    awaySec: totalMs(away) / 1000,
    handlingSec: handling / 1000,
    idleSec: totalMs(idle) / 1000,
    occupancy: ratio(handling, handling + totalMs(idle)),
    utilization: ratio(handling, loggedIn),
  };
}

/** Adds figures of several agents or days; ratios recomputed from the sums. */
export function sumFigures(list: readonly AgentFigures[]): AgentFigures {
  const s = { loggedInSec: 0, availableSec: 0, awaySec: 0, handlingSec: 0, idleSec: 0 };
  for (const f of list) {
    s.loggedInSec += f.loggedInSec;
    s.availableSec += f.availableSec;
    s.awaySec += f.awaySec;
    s.handlingSec += f.handlingSec;
    s.idleSec += f.idleSec;
  }
  return { ...s, occupancy: ratio(s.handlingSec, s.handlingSec + s.idleSec), utilization: ratio(s.handlingSec, s.loggedInSec) };
}

