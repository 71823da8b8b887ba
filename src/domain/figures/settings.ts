/**
 * Per-channel thresholds of the contact-center figures (issue 16): AFTER_WORK_MAX_SEC,
 * SERVICE_LEVEL_THRESHOLD_SEC, SHORT_ABANDON_SEC. A setting is either one number for every
 * channel or "channel=seconds" pairs ("phone=20,email=28800") over the defaults. Pure.
 */
export const FIGURE_CHANNELS = ['email', 'phone', 'facebook', 'twitter'] as const;
export type FigureChannel = (typeof FIGURE_CHANNELS)[number];
export type PerChannel = Record<FigureChannel, number>;

export interface FigureSettings {
  afterWorkMaxSec: PerChannel;
  serviceLevelSec: PerChannel;
  shortAbandonSec: PerChannel;
}

export const DEFAULT_FIGURE_SETTINGS: FigureSettings = {
  afterWorkMaxSec: { phone: 180, email: 600, facebook: 300, twitter: 300 },
  // The phone queue's 80/20; digital channels: the share of first responses within 1 h (Facebook, X) or 8 h (e-mail).
  serviceLevelSec: { phone: 20, email: 28_800, facebook: 3_600, twitter: 3_600 },
  shortAbandonSec: { phone: 5, email: 5, facebook: 5, twitter: 5 },
};

/** Parses "20" or "phone=20,email=28800"; throws an Error with a message naming what is wrong. */
export function parsePerChannel(raw: string | undefined, defaults: PerChannel): PerChannel {
  if (raw === undefined || raw.trim() === '') return { ...defaults };
  const text = raw.trim();
  const seconds = (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new Error(`"${value}" is not a whole number of seconds`);
    return Number(value.trim());
  };
  if (!text.includes('=')) {
    const n = seconds(text);
    return Object.fromEntries(FIGURE_CHANNELS.map((c) => [c, n])) as PerChannel;
  }
  const out = { ...defaults };
  for (const part of text.split(',')) {
    const [channel, value, ...rest] = part.split('=');
    const name = channel?.trim() ?? '';
    if (rest.length > 0 || value === undefined || !(FIGURE_CHANNELS as readonly string[]).includes(name)) {
      throw new Error(`"${part.trim()}" is not channel=seconds with a channel among ${FIGURE_CHANNELS.join(', ')}`);
    }
    out[name as FigureChannel] = seconds(value);
  }
  return out;
}
