import type { Config } from '../../config.js';
import type { FigureSettings } from '../../domain/figures/settings.js';

/** The per-channel thresholds of the contact-center figures, from the configuration. */
export const figureSettingsOf = (config: Pick<Config, 'AFTER_WORK_MAX_SEC' | 'SERVICE_LEVEL_THRESHOLD_SEC' | 'SHORT_ABANDON_SEC'>): FigureSettings => ({
  afterWorkMaxSec: config.AFTER_WORK_MAX_SEC,
  serviceLevelSec: config.SERVICE_LEVEL_THRESHOLD_SEC,
  shortAbandonSec: config.SHORT_ABANDON_SEC,
});
