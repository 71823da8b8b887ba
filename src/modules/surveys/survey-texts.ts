import type { SurveyKind } from '../../domain/figures/surveys.js';

/**
 * The survey line a solve sends, per kind, in the customer's language (English where we have no
 * translation). CSAT keeps its own text (csat.hook.ts); these are CES (1-7) and NPS (0-10).
 */
const TEXTS: Record<Exclude<SurveyKind, 'csat'>, Record<string, (n: number, url: string) => string>> = {
  ces: {
    en: (n, url) => `Your ticket #${n} is solved. How easy was it to get your complaint resolved? Answer from 1 (very hard) to 7 (very easy): ${url}`,
    he: (n, url) => `הפנייה שלך #${n} טופלה. עד כמה היה קל לפתור את התלונה? ענו מ-1 (קשה מאוד) עד 7 (קל מאוד): ${url}`,
    pl: (n, url) => `Twoje zgłoszenie #${n} zostało rozwiązane. Jak łatwo było załatwić reklamację? Odpowiedz od 1 (bardzo trudno) do 7 (bardzo łatwo): ${url}`,
    ar: (n, url) => `تم حل طلبك رقم #${n}. ما مدى سهولة حل شكواك؟ أجب من 1 (صعب جدًا) إلى 7 (سهل جدًا): ${url}`,
    ru: (n, url) => `Ваше обращение #${n} решено. Насколько легко было решить вашу жалобу? Ответьте от 1 (очень трудно) до 7 (очень легко): ${url}`,
  },
  nps: {
    en: (n, url) => `Your ticket #${n} is solved. How likely are you to recommend us to a friend? Answer from 0 to 10: ${url}`,
    he: (n, url) => `הפנייה שלך #${n} טופלה. מה הסיכוי שתמליצו עלינו לחבר? ענו מ-0 עד 10: ${url}`,
    pl: (n, url) => `Twoje zgłoszenie #${n} zostało rozwiązane. Jak bardzo prawdopodobne jest, że polecisz nas znajomym? Odpowiedz od 0 do 10: ${url}`,
    ar: (n, url) => `تم حل طلبك رقم #${n}. ما مدى احتمال أن توصي بنا لصديق؟ أجب من 0 إلى 10: ${url}`,
    ru: (n, url) => `Ваше обращение #${n} решено. Насколько вероятно, что вы порекомендуете нас другу? Ответьте от 0 до 10: ${url}`,
  },
};

export function surveyOfferText(kind: Exclude<SurveyKind, 'csat'>, language: string | null, ticketNumber: number, url: string): string {
  const texts = TEXTS[kind];
  return (texts[language ?? 'en'] ?? texts.en!)(ticketNumber, url);
}
