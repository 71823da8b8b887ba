/**
 * The survey page's words in the languages our customers write in (issue 14): Hebrew and
 * Arabic right to left; Polish, English and Russian left to right. A survey in any other
 * language is shown in English.
 */

export type SurveyKind = 'csat' | 'ces' | 'nps';

export interface SurveyTexts {
  dir: 'ltr' | 'rtl';
  title: string;
  /** The line above the question; {ticket} becomes the ticket number. */
  intro: string;
  question: Record<SurveyKind, { text: string; low: string; high: string }>;
  comment: string;
  submit: string;
  chooseFirst: string;
  score: (n: number, max: number) => string;
  thanks: [title: string, body: string];
  answered: [title: string, body: string];
  expired: [title: string, body: string];
  notFound: [title: string, body: string];
  error: string;
  noscript: string;
}

export const SURVEY_TEXTS: Record<'en' | 'he' | 'ar' | 'pl' | 'ru', SurveyTexts> = {
  en: {
    dir: 'ltr',
    title: 'How did we do?',
    intro: 'Your complaint {ticket} has been resolved. Please rate our service.',
    question: {
      csat: { text: 'How satisfied are you with how we handled it?', low: 'Very dissatisfied', high: 'Very satisfied' },
      ces: { text: 'How easy was it to get your complaint resolved?', low: 'Very difficult', high: 'Very easy' },
      nps: { text: 'How likely are you to recommend us to a friend or colleague?', low: 'Not at all likely', high: 'Extremely likely' },
    },
    comment: 'Anything you would like to add? (optional)',
    submit: 'Send',
    chooseFirst: 'Please choose a score first.',
    score: (n, max) => `${n} of ${max}`,
    thanks: ['Thank you!', 'Your answer has been recorded. It helps us improve.'],
    answered: ['You have already answered', 'This survey has already been answered. Thank you for your feedback!'],
    expired: ['This survey has closed', 'The link has expired. If you still have something to tell us, just reply to our last message.'],
    notFound: ['Survey not found', 'This link is not valid. Please check that you copied the whole link.'],
    error: 'Something went wrong and your answer was not sent. Please try again.',
    noscript: 'Please turn on JavaScript to answer this survey.',
  },
  he: {
    dir: 'rtl',
    title: 'איך היינו?',
    intro: 'התלונה שלך {ticket} טופלה. נשמח לשמוע את דעתך על השירות.',
    question: {
      csat: { text: 'עד כמה את/ה מרוצה מהטיפול בפנייה?', low: 'לא מרוצה בכלל', high: 'מרוצה מאוד' },
      ces: { text: 'עד כמה היה קל לפתור את התלונה שלך?', low: 'קשה מאוד', high: 'קל מאוד' },
      nps: { text: 'עד כמה סביר שתמליצו עלינו לחבר או לעמית?', low: 'בכלל לא סביר', high: 'סביר מאוד' },
    },
    comment: 'רוצה להוסיף משהו? (לא חובה)',
    submit: 'שליחה',
    chooseFirst: 'נא לבחור ציון.',
    score: (n, max) => `${n} מתוך ${max}`,
    thanks: ['תודה רבה!', 'התשובה שלך נשמרה. היא עוזרת לנו להשתפר.'],
    answered: ['כבר ענית על הסקר', 'הסקר הזה כבר נענה. תודה על המשוב!'],
    expired: ['הסקר נסגר', 'תוקף הקישור פג. אם יש לך עוד משהו לספר לנו, אפשר פשוט להשיב להודעה האחרונה שלנו.'],
    notFound: ['הסקר לא נמצא', 'הקישור אינו תקין. נא לוודא שהועתק הקישור המלא.'],
    error: 'משהו השתבש והתשובה לא נשלחה. נא לנסות שוב.',
    noscript: 'כדי לענות על הסקר יש להפעיל JavaScript.',
  },
  ar: {
    dir: 'rtl',
    title: 'كيف كانت خدمتنا؟',
    intro: 'تمت معالجة شكواك {ticket}. يسعدنا أن نعرف رأيك في خدمتنا.',
    question: {
      csat: { text: 'ما مدى رضاك عن طريقة معالجتنا لشكواك؟', low: 'غير راضٍ إطلاقًا', high: 'راضٍ جدًا' },
      ces: { text: 'ما مدى سهولة حل شكواك؟', low: 'صعب جدًا', high: 'سهل جدًا' },
      nps: { text: 'ما مدى احتمال أن توصي بنا لصديق أو زميل؟', low: 'غير محتمل إطلاقًا', high: 'محتمل جدًا' },
    },
    comment: 'هل تود إضافة شيء؟ (اختياري)',
    submit: 'إرسال',
    chooseFirst: 'يرجى اختيار تقييم أولًا.',
    score: (n, max) => `${n} من ${max}`,
    thanks: ['شكرًا لك!', 'تم تسجيل إجابتك. هذا يساعدنا على التحسن.'],
    answered: ['لقد أجبت بالفعل', 'تمت الإجابة على هذا الاستبيان من قبل. شكرًا على ملاحظاتك!'],
    expired: ['تم إغلاق هذا الاستبيان', 'انتهت صلاحية الرابط. إذا كان لديك ما تود إخبارنا به، يمكنك الرد على رسالتنا الأخيرة.'],
    notFound: ['الاستبيان غير موجود', 'هذا الرابط غير صالح. يرجى التأكد من نسخ الرابط كاملًا.'],
    error: 'حدث خطأ ولم تُرسل إجابتك. يرجى المحاولة مرة أخرى.',
    noscript: 'يرجى تفعيل JavaScript للإجابة على هذا الاستبيان.',
  },
  pl: {
    dir: 'ltr',
    title: 'Jak nam poszło?',
    intro: 'Twoja reklamacja {ticket} została rozpatrzona. Prosimy o ocenę naszej obsługi.',
    question: {
      csat: { text: 'Jak bardzo jesteś zadowolony(-a) z rozpatrzenia sprawy?', low: 'Bardzo niezadowolony(-a)', high: 'Bardzo zadowolony(-a)' },
      ces: { text: 'Jak łatwo było załatwić Twoją reklamację?', low: 'Bardzo trudno', high: 'Bardzo łatwo' },
      nps: { text: 'Jak bardzo prawdopodobne jest, że polecisz nas znajomemu lub współpracownikowi?', low: 'Zupełnie nieprawdopodobne', high: 'Bardzo prawdopodobne' },
    },
    comment: 'Chcesz coś dodać? (opcjonalnie)',
    submit: 'Wyślij',
    chooseFirst: 'Najpierw wybierz ocenę.',
    score: (n, max) => `${n} z ${max}`,
    thanks: ['Dziękujemy!', 'Twoja odpowiedź została zapisana. Pomoże nam działać lepiej.'],
    answered: ['Ta ankieta ma już odpowiedź', 'Odpowiedź na tę ankietę została już udzielona. Dziękujemy za opinię!'],
    expired: ['Ankieta jest już zamknięta', 'Link wygasł. Jeśli chcesz nam coś jeszcze przekazać, odpowiedz na naszą ostatnią wiadomość.'],
    notFound: ['Nie znaleziono ankiety', 'Ten link jest nieprawidłowy. Sprawdź, czy skopiowano cały link.'],
    error: 'Coś poszło nie tak i odpowiedź nie została wysłana. Spróbuj ponownie.',
    noscript: 'Aby odpowiedzieć na ankietę, włącz JavaScript.',
  },
  ru: {
    dir: 'ltr',
    title: 'Как мы справились?',
    intro: 'Ваша жалоба {ticket} рассмотрена. Пожалуйста, оцените нашу работу.',
    question: {
      csat: { text: 'Насколько вы довольны тем, как мы решили вопрос?', low: 'Совсем не доволен', high: 'Очень доволен' },
      ces: { text: 'Насколько легко было решить ваш вопрос?', low: 'Очень трудно', high: 'Очень легко' },
      nps: { text: 'Насколько вероятно, что вы порекомендуете нас другу или коллеге?', low: 'Совсем маловероятно', high: 'Очень вероятно' },
    },
    comment: 'Хотите что-то добавить? (необязательно)',
    submit: 'Отправить',
    chooseFirst: 'Сначала выберите оценку.',
    score: (n, max) => `${n} из ${max}`,
    thanks: ['Спасибо!', 'Ваш ответ сохранён. Он помогает нам стать лучше.'],
    answered: ['Вы уже ответили', 'На этот опрос уже ответили. Спасибо за отзыв!'],
    expired: ['Опрос закрыт', 'Срок действия ссылки истёк. Если вы хотите что-то сообщить, просто ответьте на наше последнее сообщение.'],
    notFound: ['Опрос не найден', 'Ссылка недействительна. Проверьте, что вы скопировали её полностью.'],
    error: 'Что-то пошло не так, ответ не отправлен. Попробуйте ещё раз.',
    noscript: 'Чтобы ответить на опрос, включите JavaScript.',
  },
};

/** The survey's language when we have its words; else the browser's first one we have; else English. */
export function pickLanguage(surveyLanguage: string | null | undefined, acceptLanguage: string | undefined): keyof typeof SURVEY_TEXTS {
  const known = (code: string | null | undefined) => {
    const base = code?.trim().toLowerCase().split(/[-_;]/)[0];
    return base && base in SURVEY_TEXTS ? (base as keyof typeof SURVEY_TEXTS) : undefined;
  };
  const fromSurvey = known(surveyLanguage);
  if (fromSurvey) return fromSurvey;
  for (const part of (acceptLanguage ?? '').split(',').slice(0, 10)) {
    const language = known(part);
    if (language) return language;
  }
  return 'en';
}
