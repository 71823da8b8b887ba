import { detectAll } from 'tinyld';

/**
 * Languages we expect complaints in. tinyld supports all of them (checked against its
 * `supportedLanguages`); restricting it matters because unrestricted it calls short English
 * sentences Afrikaans ("My order arrived damaged" → "af").
 */
export const DEFAULT_LANGUAGE_CANDIDATES: readonly string[] = [
  'he', 'pl', 'en', 'ar', 'ru', 'uk', 'de', 'fr', 'es', 'it', 'pt', 'nl',
  'tr', 'cs', 'ro', 'hu', 'el', 'sv', 'fa', 'hi', 'zh', 'ja', 'ko',
];

const RTL = new Set(['he', 'iw', 'ar', 'fa', 'ur', 'yi', 'ps', 'dv', 'sd', 'ug', 'ckb']);
const CYRILLIC_LANGS = new Set(['ru', 'uk', 'bg', 'sr', 'be', 'mk', 'kk']);
const NON_LATIN_LANGS = new Set([...CYRILLIC_LANGS, 'he', 'ar', 'fa', 'el', 'hi', 'zh', 'ja', 'ko']);

type Script = 'hebrew' | 'arabic' | 'cyrillic' | 'greek' | 'devanagari' | 'kana' | 'han' | 'hangul' | 'latin' | 'other';

const SCRIPT_TESTS: [Script, RegExp][] = [
  ['hebrew', /\p{Script=Hebrew}/u],
  ['arabic', /\p{Script=Arabic}/u],
  ['cyrillic', /\p{Script=Cyrillic}/u],
  ['greek', /\p{Script=Greek}/u],
  ['devanagari', /\p{Script=Devanagari}/u],
  ['kana', /[\p{Script=Hiragana}\p{Script=Katakana}]/u],
  ['han', /\p{Script=Han}/u],
  ['hangul', /\p{Script=Hangul}/u],
  ['latin', /\p{Script=Latin}/u],
];

// Letters Persian writes and Arabic does not (پ چ ژ گ, and the Persian forms of kaf and yeh).
const PERSIAN_LETTERS = /[\u067E\u0686\u0698\u06AF\u06A9\u06CC]/u;

/**
 * ISO 639-1 code of the text's language, or undefined when the text is too short or nothing
 * matched. Scripts that belong to one candidate language decide on their own; tinyld only
 * chooses among languages sharing the text's script, which is where it is reliable.
 */
export function detectLanguage(text: string, opts?: { candidates?: string[] }): string | undefined {
  const candidates = (opts?.candidates ?? DEFAULT_LANGUAGE_CANDIDATES).map((c) => c.toLowerCase());
  // URLs, handles and addresses are Latin letters in every language; they would drag Hebrew or
  // Russian messages towards English.
  const cleaned = text
    .replace(/\bhttps?:\/\/\S+/gi, ' ')
    .replace(/\S+@\S+/g, ' ')
    .replace(/[@#][\p{L}\p{N}_]+/gu, ' ');
  const letters = cleaned.match(/\p{L}/gu) ?? [];
  if (letters.length < 3) return undefined;

  const script = dominantScript(letters);
  const pick = (lang: string): string | undefined => (candidates.includes(lang) ? lang : undefined);
  switch (script) {
    case 'hebrew':
      return pick('he');
    case 'arabic':
      return PERSIAN_LETTERS.test(cleaned) ? (pick('fa') ?? pick('ar')) : (pick('ar') ?? pick('fa'));
    case 'greek':
      return pick('el');
    case 'devanagari':
      return pick('hi');
    case 'hangul':
      return pick('ko');
    case 'kana':
      return pick('ja');
    case 'han':
      // Kanji-only Japanese is rare in a sentence; kana would have won the count.
      return pick('zh') ?? pick('ja');
    case 'cyrillic':
      return viaTinyld(cleaned, candidates.filter((c) => CYRILLIC_LANGS.has(c)));
    case 'latin':
      return viaTinyld(cleaned, candidates.filter((c) => !NON_LATIN_LANGS.has(c)));
    default:
      return undefined;
  }
}

/** True for languages written right to left (used to set `dir="rtl"` on replies). */
export function isRightToLeft(lang: string | undefined | null): boolean {
  if (!lang) return false;
  const primary = lang.trim().toLowerCase().split(/[-_]/)[0] ?? '';
  return RTL.has(primary);
}

function dominantScript(letters: string[]): Script {
  const counts = new Map<Script, number>();
  for (const letter of letters) {
    const script = SCRIPT_TESTS.find(([, re]) => re.test(letter))?.[0] ?? 'other';
    counts.set(script, (counts.get(script) ?? 0) + 1);
  }
  // Japanese mixes kana with kanji; any real amount of kana means Japanese, not Chinese.
  const kana = counts.get('kana') ?? 0;
  if (kana > 0 && kana >= (counts.get('han') ?? 0) / 4) {
    counts.set('kana', kana + (counts.get('han') ?? 0));
    counts.delete('han');
  }
  let best: Script = 'other';
  let bestCount = 0;
  for (const [script, count] of counts) {
    if (count > bestCount) [best, bestCount] = [script, count];
  }
  return best;
}

function viaTinyld(text: string, only: string[]): string | undefined {
  if (only.length === 0) return undefined;
  if (only.length === 1) return only[0];
  const [top] = detectAll(text, { only });
  return top && top.accuracy > 0 ? top.lang : undefined;
}
