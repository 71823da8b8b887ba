/**
 * Effort and loyalty scores (issue 16), pure.
 * CES: "how easy was it to get your complaint resolved", 1 (very hard) to 7 (very easy); the
 * figure is the mean of the answers.
 * NPS: "how likely are you to recommend us", 0 to 10; promoters answer 9-10, passives 7-8,
 * detractors 0-6; score = 100 × (promoters − detractors) / answers, from −100 to 100 (the
 * customary scale: it is a score, not a share).
 */
export const SURVEY_KINDS = ['csat', 'ces', 'nps'] as const;
export type SurveyKind = (typeof SURVEY_KINDS)[number];

export const SCALES: Record<SurveyKind, { min: number; max: number }> = {
  csat: { min: 1, max: 5 },
  ces: { min: 1, max: 7 },
  nps: { min: 0, max: 10 },
};

export const inScale = (kind: SurveyKind, score: number): boolean => Number.isInteger(score) && score >= SCALES[kind].min && score <= SCALES[kind].max;

export type NpsClass = 'promoter' | 'passive' | 'detractor';
export const npsClass = (score: number): NpsClass => (score >= 9 ? 'promoter' : score >= 7 ? 'passive' : 'detractor');

export interface NpsCounts {
  responded: number;
  promoters: number;
  passives: number;
  detractors: number;
}

export function npsCounts(scores: readonly number[]): NpsCounts {
  const c = { responded: 0, promoters: 0, passives: 0, detractors: 0 };
  for (const s of scores) {
    c.responded++;
    const k = npsClass(s);
    if (k === 'promoter') c.promoters++;
    else if (k === 'passive') c.passives++;
    else c.detractors++;
  }
  return c;
}

export const npsScore = (c: Pick<NpsCounts, 'responded' | 'promoters' | 'detractors'>): number | null =>
  c.responded === 0 ? null : (100 * (c.promoters - c.detractors)) / c.responded;

export const average = (values: readonly number[]): number | null => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);
