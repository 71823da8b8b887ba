import { CHANNELS, type Channel } from '../../channels/channel.types.js';

/**
 * The routing model, as data. Presence, capacity per channel, skills (channels with capacity,
 * languages, teams) and a team's routing settings; the selection (selection.ts) and the queue
 * order (queue-order.ts) are pure functions of them.
 */

export const PRESENCES = ['online', 'away', 'offline'] as const;
export type Presence = (typeof PRESENCES)[number];
export const PRESENCE_REASONS = ['manual', 'idle', 'shift'] as const;
export type PresenceReason = (typeof PRESENCE_REASONS)[number];

export const ROUTING_ORDERS = ['sla', 'priority', 'fifo'] as const;
export const ROUTING_METHODS = ['least_loaded', 'round_robin'] as const;
export type RoutingOrder = (typeof ROUTING_ORDERS)[number];
export type RoutingMethod = (typeof ROUTING_METHODS)[number];
export type RoutingReason = 'least_loaded' | 'round_robin' | 'sticky' | 'language_fallback';

export type Capacity = Record<Channel, number>;
export type CapacityOverride = Partial<Capacity>;
export const DEFAULT_CAPACITY: Capacity = { email: 10, phone: 1, facebook: 5, twitter: 5 };

export interface RoutingSettings {
  enabled: boolean;
  order: RoutingOrder;
  method: RoutingMethod;
  languageFallbackSec: number;
  stickyDays: number;
  /**
   * A business-hours calendar (GET /v1/calendars) whose closing ends its agents' shift: they
   * go offline with reason `shift` (shift.ts). null: presence is only set by people and idleness.
   */
  shiftCalendarId: string | null;
}
export const DEFAULT_ROUTING: RoutingSettings = { enabled: true, order: 'sla', method: 'least_loaded', languageFallbackSec: 300, stickyDays: 30, shiftCalendarId: null };

/** Team defaults under agent overrides, channel by channel, over the built-in defaults. */
export function effectiveCapacity(...layers: (CapacityOverride | null | undefined)[]): Capacity {
  const result = { ...DEFAULT_CAPACITY };
  for (const layer of layers) {
    if (!layer) continue;
    for (const channel of CHANNELS) if (layer[channel] !== undefined) result[channel] = layer[channel];
  }
  return result;
}

export function effectiveRouting(stored: Partial<RoutingSettings> | null | undefined): RoutingSettings {
  return { ...DEFAULT_ROUTING, ...stored };
}

const languageNames = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'code' });

/** An ISO 639 code (two or three lower-case letters) that ICU knows as a language. */
export function isIso639(code: string): boolean {
  if (!/^[a-z]{2,3}$/.test(code)) return false;
  const name = languageNames.of(code);
  return name !== undefined && name !== code;
}
