import { describe, expect, it } from 'vitest';
import { detectLanguage, isRightToLeft } from '../../../src/channels/language.js';

describe('detectLanguage', () => {
  it.each([
    ['he', 'שלום, ההזמנה שלי הגיעה פגומה ואני רוצה החזר כספי'],
    ['pl', 'Dzień dobry, moja przesyłka nie dotarła i nikt nie odbiera telefonu.'],
    ['pl', 'Chcę zwrotu pieniędzy'],
    ['en', 'Hi, my order #4471 arrived damaged'],
    ['en', 'The package never arrived and nobody answers the phone'],
    ['ar', 'طلبي وصل تالفا وأريد استرداد المبلغ'],
    ['fa', 'سفارش من خراب رسید، لطفا پول را برگردانید'],
    ['ru', 'Мой заказ пришёл повреждённым, верните деньги'],
    ['uk', 'Доброго дня, моє замовлення прийшло пошкодженим'],
    ['de', 'Meine Bestellung ist beschädigt angekommen'],
    ['el', 'Η παραγγελία μου έφτασε χαλασμένη'],
    ['ja', '注文が壊れていました'],
    ['zh', '我的订单坏了'],
    ['ko', '주문한 상품이 파손되었습니다'],
  ])('detects %s', (lang, text) => {
    expect(detectLanguage(text)).toBe(lang);
  });

  it('is not fooled by URLs, addresses and handles', () => {
    expect(detectLanguage('@ShopSupport ההזמנה לא הגיעה https://example.com/orders/4471 support@example.com')).toBe('he');
  });

  it('returns undefined for empty or too short text', () => {
    expect(detectLanguage('')).toBeUndefined();
    expect(detectLanguage('ok')).toBeUndefined();
    expect(detectLanguage('#4471 12:30 !!!')).toBeUndefined();
    expect(detectLanguage('👍👍👍')).toBeUndefined();
  });

  it('honours a candidate list', () => {
    expect(detectLanguage('Мой заказ пришёл повреждённым', { candidates: ['ru', 'en'] })).toBe('ru');
    expect(detectLanguage('שלום, ההזמנה לא הגיעה', { candidates: ['en', 'pl'] })).toBeUndefined();
    expect(detectLanguage('My order arrived damaged', { candidates: ['EN', 'PL'] })).toBe('en');
  });
});

describe('isRightToLeft', () => {
  it('knows the RTL languages', () => {
    for (const lang of ['he', 'ar', 'fa', 'he-IL', 'AR_eg', 'iw', 'ur', 'yi']) expect(isRightToLeft(lang), lang).toBe(true);
    for (const lang of ['en', 'pl', 'ru', '', undefined, null]) expect(isRightToLeft(lang), String(lang)).toBe(false);
  });
});
