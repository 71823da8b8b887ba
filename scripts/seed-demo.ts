/**
 * npm run seed:demo [-- --tickets 3000 --customers 300 --days 30 --seed 42 --now 2026-03-01T00:00:00Z --force]
 *
 * Fills the database at DATABASE_URL (created and migrated if needed) with a realistic month of
 * complaints: e-mail, phone, Facebook and X, in Hebrew, Polish, English, Arabic and Russian, from a
 * few hundred customers, handled by four teams. Tickets are answered, noted, solved, reopened and
 * closed; SLA clocks are met or breached (with their breach rows) on the default SLA policies;
 * promises are kept or broken; CSAT surveys are offered and answered; FCR is settled. Everything
 * is generated in memory by a seeded PRNG (same seed and --now: same data) and written with
 * multi-row inserts in one transaction.
 *
 * Refuses to touch a database that already has tickets unless --force, which first DELETES every
 * ticket, customer, agent and team (API keys, SLA policies and calendars stay).
 */
import { seedContactFacts } from './seed-contact-facts.js';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { getTableColumns, is, sql, SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Channel } from '../src/channels/channel.types.js';
import { createDatabase, createPool, type Database, type Executor } from '../src/db/client.js';
import { ensureDatabase, runMigrations } from '../src/db/migrate.js';
import { addBusinessSeconds, businessSecondsBetween, type BusinessCalendar } from '../src/domain/calendar.js';
import { matchPolicy } from '../src/domain/sla/sla-policy.js';
import type { SlaPolicy } from '../src/domain/sla/sla.types.js';
import { PRIORITIES, type Priority } from '../src/domain/ticket-lifecycle.js';
import { agents } from '../src/modules/agents/agents.table.js';
import { createApiKeyService } from '../src/modules/auth/api-keys.service.js';
import { csatSurveys } from '../src/modules/csat/csat.table.js';
import { customerIdentities, customers } from '../src/modules/customers/customers.table.js';
import { installDefaultPolicies } from '../src/modules/sla/policies/sla.defaults.js';
import { loadPolicies } from '../src/modules/sla/policies/policy.cache.js';
import { breaches, commitments, slaClocks } from '../src/modules/sla/sla.table.js';
import { teams } from '../src/modules/teams/teams.table.js';
import { messages } from '../src/modules/tickets/messages.table.js';
import { ticketEvents } from '../src/modules/tickets/ticket-events.table.js';
import { tickets } from '../src/modules/tickets/tickets.table.js';
import { systemClock } from '../src/shared/clock.js';

export interface SeedOptions {
  databaseUrl: string;
  /** Tickets to create (default 3000). */
  tickets?: number;
  /** Customers they come from (default 300). */
  customers?: number;
  /** Days of history before `now` (default 30). */
  days?: number;
  /** PRNG seed (default 42). */
  seed?: number;
  /** The end of the history (default: the current hour). */
  now?: Date;
  /** Delete existing tickets, customers, agents and teams first instead of refusing. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface SeedSummary {
  teams: number;
  agents: number;
  customers: number;
  identities: number;
  tickets: number;
  messages: number;
  events: number;
  clocks: number;
  breaches: number;
  commitments: number;
  surveys: number;
  byStatus: Record<string, number>;
  adminToken: string;
  from: Date;
  to: Date;
  ms: number;
}

export class SeedRefusedError extends Error {}

// ---- a small deterministic PRNG ----------------------------------------------------------------

/** mulberry32: 32-bit state, good enough for demo data and fully reproducible. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return {
    next,
    int: (min: number, max: number): number => min + Math.floor(next() * (max - min + 1)),
    chance: (p: number): boolean => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    weighted: <T extends string>(weights: Record<T, number>): T => {
      const entries = Object.entries(weights) as [T, number][];
      let r = next() * entries.reduce((sum, [, w]) => sum + w, 0);
      for (const [value, w] of entries) if ((r -= w) < 0) return value;
      return entries[entries.length - 1]![0];
    },
    /** Log-normal around `median` seconds. */
    lognormal: (median: number, sigma: number): number => median * Math.exp(sigma * normal()),
    uuid: (): string => {
      const b = Array.from({ length: 16 }, () => Math.floor(next() * 256));
      b[6] = (b[6]! & 0x0f) | 0x40;
      b[8] = (b[8]! & 0x3f) | 0x80;
      const h = b.map((x) => x.toString(16).padStart(2, '0')).join('');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
    hex: (bytes: number): string => Array.from({ length: bytes }, () => Math.floor(next() * 256).toString(16).padStart(2, '0')).join(''),
  };
}
type Rng = ReturnType<typeof prng>;

// ---- content -----------------------------------------------------------------------------------

type Language = 'he' | 'pl' | 'en' | 'ar' | 'ru';

const NAMES: Record<Language, { first: string[]; last: string[] }> = {
  he: { first: ['נועה', 'יוסי', 'מיכל', 'אבי', 'שירה', 'דוד', 'תמר', 'איתי'], last: ['כהן', 'לוי', 'מזרחי', 'פרץ', 'ביטון', 'אברהם'] },
  pl: { first: ['Anna', 'Piotr', 'Katarzyna', 'Tomasz', 'Magdalena', 'Krzysztof', 'Zofia', 'Łukasz'], last: ['Nowak', 'Kowalski', 'Wiśniewska', 'Wójcik', 'Kamiński', 'Zieliński'] },
  en: { first: ['Emma', 'James', 'Olivia', 'Noah', 'Sophie', 'Daniel', 'Grace', 'Liam'], last: ['Smith', 'Jones', 'Taylor', 'Brown', 'Walker', 'Evans'] },
  ar: { first: ['محمد', 'فاطمة', 'أحمد', 'ليلى', 'يوسف', 'مريم', 'خالد', 'نور'], last: ['حداد', 'خوري', 'منصور', 'سليمان', 'عيسى', 'ناصر'] },
  ru: { first: ['Анна', 'Дмитрий', 'Елена', 'Сергей', 'Ольга', 'Алексей', 'Наталья', 'Иван'], last: ['Иванов', 'Смирнова', 'Кузнецов', 'Попова', 'Соколов', 'Морозова'] },
};

const LATIN: Record<Language, string> = { he: 'noa', pl: 'anna', en: 'emma', ar: 'mohammed', ru: 'anna' };

const COMPLAINTS: Record<Language, [string, string][]> = {
  he: [
    ['חויבתי פעמיים על אותה הזמנה', 'ראיתי בחשבון שני חיובים זהים. אבקש זיכוי מיידי.'],
    ['המשלוח לא הגיע', 'ההזמנה הייתה אמורה להגיע לפני שבוע ועדיין אין כלום.'],
    ['האינטרנט מתנתק כל ערב', 'החיבור נופל כל ערב בין 20:00 ל-23:00.'],
    ['המוצר הגיע שבור', 'הקומקום הגיע סדוק ודולף מים.'],
    ['נציג לא חזר אליי', 'הובטח לי שיחזרו אליי תוך יום ואף אחד לא התקשר.'],
  ],
  pl: [
    ['Podwójne obciążenie karty', 'Na wyciągu widzę dwie identyczne płatności za jedno zamówienie. Proszę o zwrot.'],
    ['Przesyłka nie dotarła', 'Zamówienie miało przyjść tydzień temu, a kurier nadal go nie dostarczył.'],
    ['Internet zrywa się co wieczór', 'Połączenie pada codziennie między 20:00 a 23:00.'],
    ['Uszkodzony produkt', 'Czajnik przyszedł pęknięty i przecieka.'],
    ['Nikt do mnie nie oddzwonił', 'Obiecano mi kontakt w ciągu doby, ale nikt się nie odezwał.'],
  ],
  en: [
    ['Charged twice for one order', 'My statement shows two identical charges for the same order. Please refund one.'],
    ['Parcel never arrived', 'The order was due a week ago and the tracking has not moved since.'],
    ['Internet drops every evening', 'The connection fails every evening between 8 and 11 pm.'],
    ['Kettle arrived broken', 'The kettle arrived cracked and leaks water all over the counter.'],
    ['Nobody called me back', 'I was promised a call back within a day and nobody called.'],
  ],
  ar: [
    ['تم خصم المبلغ مرتين', 'ظهر في كشف الحساب خصمان متطابقان لنفس الطلب. أرجو استرداد أحدهما.'],
    ['الطلب لم يصل', 'كان من المفترض أن يصل الطلب قبل أسبوع ولم يصل بعد.'],
    ['الإنترنت ينقطع كل مساء', 'ينقطع الاتصال كل مساء بين الساعة الثامنة والحادية عشرة.'],
    ['وصل المنتج مكسوراً', 'وصلت الغلاية مكسورة وتسرب الماء.'],
    ['لم يتصل بي أحد', 'وعدوني بالاتصال خلال يوم ولم يتصل أحد.'],
  ],
  ru: [
    ['Двойное списание', 'В выписке два одинаковых списания за один заказ. Прошу вернуть одно.'],
    ['Посылка не пришла', 'Заказ должен был прийти неделю назад, но трекинг не меняется.'],
    ['Интернет пропадает каждый вечер', 'Связь пропадает каждый вечер с 20:00 до 23:00.'],
    ['Чайник пришёл разбитым', 'Чайник пришёл с трещиной и протекает.'],
    ['Мне так и не перезвонили', 'Обещали перезвонить в течение дня, но никто не позвонил.'],
  ],
};

const REPLIES: Record<Language, string[]> = {
  he: ['תודה על פנייתך, אנחנו בודקים את הנושא.', 'הזיכוי בוצע ויופיע בחשבון תוך 5 ימי עסקים.', 'טכנאי יגיע אליך מחר בין 8:00 ל-12:00.'],
  pl: ['Dziękujemy za zgłoszenie, sprawdzamy sprawę.', 'Zwrot został zlecony i pojawi się na koncie w ciągu 5 dni roboczych.', 'Technik odwiedzi Państwa jutro między 8:00 a 12:00.'],
  en: ['Thank you for reaching out, we are looking into it.', 'The refund has been issued and will reach your account within 5 business days.', 'A technician will visit tomorrow between 8 am and noon.'],
  ar: ['شكراً لتواصلك، نحن نتحقق من الأمر.', 'تم إصدار الاسترداد وسيصل إلى حسابك خلال 5 أيام عمل.', 'سيزورك فني غداً بين الثامنة والثانية عشرة.'],
  ru: ['Спасибо за обращение, мы разбираемся.', 'Возврат оформлен и поступит на счёт в течение 5 рабочих дней.', 'Мастер придёт завтра с 8:00 до 12:00.'],
};

const FOLLOW_UPS: Record<Language, string> = {
  he: 'עדיין לא קיבלתי תשובה ברורה.',
  pl: 'Nadal nie dostałem jasnej odpowiedzi.',
  en: 'I still have not had a clear answer.',
  ar: 'ما زلت لم أحصل على إجابة واضحة.',
  ru: 'Я до сих пор не получил внятного ответа.',
};

const NOTES = ['Checked the billing system: duplicate capture confirmed.', 'Carrier says the parcel is stuck at the depot.', 'Line test shows errors on the evening peak.', 'Customer is a repeat complainant, handle with care.'];

const TEAMS = [
  { name: 'Billing', languages: ['pl', 'en', 'ru'] as Language[] },
  { name: 'Technical support', languages: ['pl', 'en', 'ru'] as Language[] },
  { name: 'Social care', languages: ['he', 'pl', 'en', 'ar', 'ru'] as Language[] },
  { name: 'Middle East desk', languages: ['he', 'ar', 'en'] as Language[] },
];

const AGENTS: { name: string; team: number; languages: Language[] }[] = [
  { name: 'Agnieszka Nowak', team: 0, languages: ['pl', 'en'] },
  { name: 'Oliver Hughes', team: 0, languages: ['en'] },
  { name: 'Marta Zielińska', team: 0, languages: ['pl', 'ru', 'en'] },
  { name: 'Igor Petrov', team: 0, languages: ['ru', 'en'] },
  { name: 'Paweł Wójcik', team: 1, languages: ['pl', 'en'] },
  { name: 'Sarah Mitchell', team: 1, languages: ['en'] },
  { name: 'Olga Sokolova', team: 1, languages: ['ru', 'pl'] },
  { name: 'Tom Baker', team: 1, languages: ['en', 'pl'] },
  { name: 'Dana Levi', team: 2, languages: ['he', 'en'] },
  { name: 'Karim Haddad', team: 2, languages: ['ar', 'en'] },
  { name: 'Kasia Lewandowska', team: 2, languages: ['pl', 'en'] },
  { name: 'Nikita Orlov', team: 2, languages: ['ru', 'en'] },
  { name: 'Yael Cohen', team: 3, languages: ['he', 'en'] },
  { name: 'Omar Nasser', team: 3, languages: ['ar', 'he', 'en'] },
  { name: 'Rivka Mizrahi', team: 3, languages: ['he'] },
  { name: 'Layla Mansour', team: 3, languages: ['ar', 'en'] },
];

// ---- generation ----------------------------------------------------------------------------------

const HOUR = 3_600_000;
const FCR_WINDOW_MS = 168 * HOUR;
const CLOSE_AFTER_MS = 96 * HOUR;
const add = (d: Date, ms: number) => new Date(d.getTime() + ms);
const min = (a: Date, b: Date) => (a < b ? a : b);

type Row<T extends PgTable> = T['$inferInsert'];

interface Generated {
  teams: Row<typeof teams>[];
  agents: Row<typeof agents>[];
  customers: Row<typeof customers>[];
  identities: Row<typeof customerIdentities>[];
  tickets: Row<typeof tickets>[];
  messages: Row<typeof messages>[];
  events: Row<typeof ticketEvents>[];
  clocks: Row<typeof slaClocks>[];
  breaches: Row<typeof breaches>[];
  commitments: Row<typeof commitments>[];
  surveys: Row<typeof csatSurveys>[];
}

/** Arrivals follow the working day: quiet nights, a morning peak, a smaller evening one. */
const HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 8, 8, 9, 9, 8, 7, 6, 6, 5, 4, 3, 2];
const HOUR_WEIGHT_MAX = Math.max(...HOUR_WEIGHTS);

function arrival(rng: Rng, from: Date, to: Date): Date {
  for (;;) {
    const at = new Date(from.getTime() + rng.next() * (to.getTime() - from.getTime()));
    const weekend = at.getUTCDay() === 6 ? 0.5 : 1;
    if (rng.next() * HOUR_WEIGHT_MAX < HOUR_WEIGHTS[at.getUTCHours()]! * weekend) return at;
  }
}

function generate(options: Required<Pick<SeedOptions, 'tickets' | 'customers' | 'days' | 'seed'>> & { now: Date }, policies: SlaPolicy[]): Generated {
  const rng = prng(options.seed);
  const { now } = options;
  const from = add(now, -options.days * 24 * HOUR);
  const out: Generated = { teams: [], agents: [], customers: [], identities: [], tickets: [], messages: [], events: [], clocks: [], breaches: [], commitments: [], surveys: [] };

  const teamRows = TEAMS.map((t) => ({ id: rng.uuid(), name: t.name, createdAt: from, updatedAt: from }));
  out.teams.push(...teamRows);
  const agentRows = AGENTS.map((a, i) => ({
    id: rng.uuid(),
    name: a.name,
    email: `${a.name.toLowerCase().normalize('NFKD').replace(/[^a-z ]/g, '').replace(/ /g, '.')}${i}@desk.example`,
    teamId: teamRows[a.team]!.id,
    languages: a.languages,
    createdAt: from,
    updatedAt: from,
    team: a.team,
  }));
  out.agents.push(...agentRows.map(({ team: _team, ...row }) => row));

  const customerList = Array.from({ length: options.customers }, (_, i) => {
    const language = rng.weighted<Language>({ he: 25, pl: 25, en: 25, ar: 15, ru: 10 });
    const names = NAMES[language];
    const row = { id: rng.uuid(), name: `${rng.pick(names.first)} ${rng.pick(names.last)}`, language, createdAt: from, updatedAt: from };
    out.customers.push(row);
    return { ...row, index: i, identities: new Map<Channel, string>() };
  });

  const identityOf = (customer: (typeof customerList)[number], channel: Channel): string => {
    let address = customer.identities.get(channel);
    if (!address) {
      const n = customer.index;
      address =
        channel === 'email'
          ? `${LATIN[customer.language]}.${n}@example.${customer.language === 'pl' ? 'pl' : customer.language === 'he' ? 'co.il' : 'com'}`
          : channel === 'phone'
            ? `+${customer.language === 'pl' ? '48' : customer.language === 'he' || customer.language === 'ar' ? '972' : customer.language === 'ru' ? '7' : '44'}${String(500_000_000 + n * 7919).padStart(9, '0')}`
            : channel === 'facebook'
              ? `104233:${9_000_000_000 + n}`
              : String(1_400_000_000 + n);
      customer.identities.set(channel, address);
      out.identities.push({ id: rng.uuid(), customerId: customer.id, kind: channel, address, displayName: customer.name, createdAt: from });
    }
    return address;
  };

  const SYSTEM = { actorKind: 'system', actorId: 'demo' };
  const specs = Array.from({ length: options.tickets }, () => arrival(rng, from, now)).sort((a, b) => a.getTime() - b.getTime());

  for (const createdAt of specs) {
    const ticketId = rng.uuid();
    // A tenth of the customers write a third of the complaints.
    const customer = rng.chance(0.33) ? customerList[rng.int(0, Math.max(0, Math.floor(customerList.length / 10) - 1))]! : rng.pick(customerList);
    const language = customer.language;
    const channel = rng.weighted<Channel>({ email: 40, phone: 25, facebook: 20, twitter: 15 });
    const priority = rng.weighted<Priority>({ low: 15, normal: 55, high: 22, urgent: 8 });
    const teamIndex = channel === 'facebook' || channel === 'twitter' ? 2 : language === 'he' || language === 'ar' ? 3 : rng.chance(0.5) ? 0 : 1;
    const team = teamRows[teamIndex]!;
    const teamAgents = agentRows.filter((a) => a.team === teamIndex);
    const speakers = teamAgents.filter((a) => a.languages.includes(language));
    const pickAgent = () => rng.pick(speakers.length ? speakers : teamAgents);
    const [subject, body] = rng.pick(COMPLAINTS[language]);
    const address = identityOf(customer, channel);
    const policy = matchPolicy(policies, { channel, priority, teamId: null, status: 'open' });
    const calendar: BusinessCalendar = policy?.calendar ?? null;

    const ev = (type: string, at: Date, data: Record<string, unknown> = {}, actor: { actorKind: string; actorId: string | null } = SYSTEM) =>
      out.events.push({ ticketId, type, actorKind: actor.actorKind, actorId: actor.actorId, data, createdAt: at });
    const asAgent = (id: string) => ({ actorKind: 'agent', actorId: id });
    const inbound = (at: Date, text: string, withSubject: boolean) => {
      const id = rng.uuid();
      out.messages.push({
        id,
        ticketId,
        direction: 'inbound',
        kind: channel === 'phone' ? (rng.chance(0.3) ? 'voicemail' : 'call') : 'message',
        public: true,
        authorKind: 'customer',
        channel,
        senderKind: channel,
        senderAddress: address,
        providerMessageId: `demo-${id}`,
        subject: withSubject ? subject : null,
        bodyText: text,
        language,
        createdAt: at,
      });
      ev('customer_message', at, { messageId: id }, { actorKind: 'customer', actorId: null });
    };
    const reply = (at: Date, agentId: string) => {
      const id = rng.uuid();
      out.messages.push({
        id,
        ticketId,
        direction: 'outbound',
        kind: channel === 'phone' ? 'call' : 'message',
        public: true,
        authorKind: 'agent',
        authorAgentId: agentId,
        channel,
        bodyText: rng.pick(REPLIES[language]),
        language,
        deliveryState: 'sent',
        deliveryAttempts: 1,
        sentAt: add(at, 2_000),
        createdAt: at,
      });
      ev(channel === 'phone' ? 'call_answered' : 'agent_reply', at, { messageId: id }, asAgent(agentId));
    };

    ev('created', createdAt, { channel, priority, source: 'demo' }, { actorKind: 'customer', actorId: null });
    inbound(createdAt, body, true);

    // First response: phone callbacks and social posts are quick, e-mail takes hours.
    const urgency = { urgent: 0.35, high: 0.6, normal: 1, low: 1.4 }[priority];
    const frMedian = { phone: 20 * 60, facebook: 35 * 60, twitter: 30 * 60, email: 4 * 3600 }[channel] * urgency;
    const frAt = add(createdAt, Math.max(60, rng.lognormal(frMedian, 0.9)) * 1000);
    const answered = frAt < now;
    let assignee: string | null = answered || rng.chance(0.4) ? pickAgent().id : null;
    const assignedAt = assignee ? min(add(createdAt, rng.int(1, 15) * 60_000), answered ? frAt : now) : null;
    if (assignee) ev('assigned', assignedAt!, { from: null, to: assignee, handoff: false });

    let status: string = 'new';
    let firstResponseAt: Date | null = null;
    let solvedAt: Date | null = null;
    let closedAt: Date | null = null;
    let reopenCount = 0;
    let handoffCount = 0;
    let fcrState = 'pending';
    let fcrSettlesAt: Date | null = null;
    let lastAgentActivity = createdAt;
    let nextResponse: { startedAt: Date; stoppedAt: Date | null } | null = null;

    if (answered) {
      firstResponseAt = frAt;
      status = 'open';
      reply(frAt, assignee!);
      ev('first_response', frAt);
      ev('status_changed', frAt, { from: 'new', to: 'open' }, asAgent(assignee!));
      if (rng.chance(0.2)) {
        const id = rng.uuid();
        const at = add(frAt, rng.int(5, 90) * 60_000);
        if (at < now) {
          out.messages.push({ id, ticketId, direction: 'internal', kind: 'note', public: false, authorKind: 'agent', authorAgentId: assignee, channel, bodyText: rng.pick(NOTES), createdAt: at });
          ev('note_added', at, { messageId: id }, asAgent(assignee!));
        }
      }
      // Back-and-forth before the solve: each extra round is a customer message and an answer.
      const rounds = rng.weighted({ 0: 76, 1: 16, 2: 6, 3: 2 } as Record<string, number>);
      let t = frAt;
      let interactions = 1;
      for (let r = 0; r < Number(rounds); r++) {
        const asked = add(t, rng.lognormal(3 * HOUR, 0.8));
        const answer = add(asked, rng.lognormal(frMedian, 0.7) * 1000);
        if (answer >= now) break;
        inbound(asked, FOLLOW_UPS[language], false);
        reply(answer, assignee!);
        interactions++;
        t = answer;
      }
      // Handoffs: a second (or third) agent takes over.
      const handoffs = rng.weighted({ 0: 86, 1: 11, 2: 3 } as Record<string, number>);
      for (let h = 0; h < Number(handoffs); h++) {
        const at = add(t, rng.int(10, 240) * 60_000);
        if (at >= now) break;
        const next = rng.pick(teamAgents.filter((a) => a.id !== assignee)).id;
        ev('assigned', at, { from: assignee, to: next, handoff: true });
        assignee = next;
        handoffCount++;
        t = at;
      }
      lastAgentActivity = t;
      const solveMedian = { urgent: 2, high: 8, normal: 20, low: 40 }[priority] * HOUR * (interactions === 1 ? 0.5 : 1);
      const firstSolve = add(t, rng.lognormal(solveMedian, 1));
      if (firstSolve >= now) {
        status = rng.weighted({ open: 60, pending: 25, on_hold: 15 });
        if (status !== 'open') ev('status_changed', add(t, 60_000), { from: 'open', to: status }, asAgent(assignee!));
      } else {
        solvedAt = firstSolve;
        status = 'solved';
        ev('status_changed', firstSolve, { from: 'open', to: 'solved' }, asAgent(assignee!));
        // FCR, decided at the first solve as src/domain/fcr.ts does.
        const firstContact = interactions === 1 && handoffCount === 0;
        fcrState = firstContact ? 'pending' : 'no';
        fcrSettlesAt = firstContact ? add(firstSolve, FCR_WINDOW_MS) : firstSolve;
        if (!firstContact) ev('fcr_settled', firstSolve, { state: 'no', reason: interactions > 1 ? `${interactions} interactions` : 'handed off' });
        // Some come back: the customer writes again and the ticket reopens.
        const reopenAt = add(firstSolve, rng.lognormal(30 * HOUR, 0.8));
        if (rng.chance(0.11) && reopenAt < now) {
          reopenCount = 1;
          solvedAt = null;
          status = 'open';
          inbound(reopenAt, FOLLOW_UPS[language], false);
          ev('reopened', reopenAt, { from: 'solved', by: 'customer' }, { actorKind: 'customer', actorId: null });
          ev('status_changed', reopenAt, { from: 'solved', to: 'open' }, { actorKind: 'customer', actorId: null });
          if (fcrState === 'pending' && reopenAt < fcrSettlesAt!) {
            fcrState = 'no';
            ev('fcr_settled', reopenAt, { state: 'no', reason: 'reopened within the window' });
          }
          const again = add(reopenAt, rng.lognormal(frMedian, 0.7) * 1000);
          nextResponse = { startedAt: reopenAt, stoppedAt: again < now ? again : null };
          if (again < now) {
            reply(again, assignee!);
            const resolve = add(again, rng.lognormal(solveMedian, 0.8));
            if (resolve < now) {
              solvedAt = resolve;
              status = 'solved';
              ev('status_changed', resolve, { from: 'open', to: 'solved' }, asAgent(assignee!));
            }
          }
        }
        if (fcrState === 'pending' && fcrSettlesAt! <= now && status === 'solved') {
          fcrState = 'yes';
          ev('fcr_settled', fcrSettlesAt!, { state: 'yes', reason: 'reopen window closed' });
        }
        if (solvedAt && add(solvedAt, CLOSE_AFTER_MS) < now && rng.chance(0.85)) {
          closedAt = add(solvedAt, CLOSE_AFTER_MS);
          status = 'closed';
          ev('status_changed', closedAt, { from: 'solved', to: 'closed' });
        }
      }
    }

    out.tickets.push({
      id: ticketId,
      status,
      priority,
      channel,
      subject,
      description: body,
      customerId: customer.id,
      assigneeId: assignee,
      teamId: team.id,
      language,
      tags: ['demo', rng.pick(['billing', 'delivery', 'outage', 'damaged', 'callback'])],
      firstAssignedAt: assignedAt,
      firstResponseAt,
      solvedAt,
      closedAt,
      reopenCount,
      handoffCount,
      fcrState,
      fcrSettlesAt,
      slaPolicyId: policy?.id ?? null,
      createdAt,
      updatedAt: closedAt ?? solvedAt ?? (lastAgentActivity > createdAt ? lastAgentActivity : createdAt),
    });

    // ---- SLA clocks on the matching default policy, with a breach row for each miss.
    if (policy) {
      const clock = (metric: string, targetSec: number | undefined, startedAt: Date, stoppedAt: Date | null) => {
        if (targetSec === undefined) return;
        const dueAt = addBusinessSeconds(calendar, startedAt, targetSec);
        const end = stoppedAt ?? now;
        const usedSec = businessSecondsBetween(calendar, startedAt, end);
        const late = end > dueAt;
        const id = rng.uuid();
        out.clocks.push({
          id,
          ticketId,
          policyId: policy.id,
          metric,
          state: late ? 'breached' : stoppedAt ? 'met' : 'running',
          targetSec,
          startedAt,
          resumedAt: stoppedAt ? null : startedAt,
          usedSec: stoppedAt ? usedSec : 0,
          dueAt: stoppedAt && !late ? null : dueAt,
          warnDueAt: null,
          warnedAt: late || (stoppedAt === null && usedSec > 0.75 * targetSec) ? addBusinessSeconds(calendar, startedAt, 0.75 * targetSec) : null,
          breachedAt: late ? dueAt : null,
          stoppedAt,
          updatedAt: stoppedAt ?? now,
        });
        if (late) {
          const acked = stoppedAt === null && rng.chance(0.5);
          out.breaches.push({
            ticketId,
            clockId: id,
            clockStartedAt: startedAt,
            policyId: policy.id,
            metric,
            channel,
            teamId: team.id,
            severity: PRIORITIES.indexOf(priority),
            dueAt,
            breachedAt: dueAt,
            state: stoppedAt ? 'resolved' : acked ? 'acknowledged' : 'open',
            acknowledgedBy: acked ? assignee : null,
            acknowledgedAt: acked ? add(dueAt, 10 * 60_000) : null,
            resolvedAt: stoppedAt,
          });
          ev('sla_breached', dueAt, { metric, dueAt });
        }
      };
      const ended = solvedAt ?? closedAt;
      clock('first_response', policy.targets.firstResponse, createdAt, firstResponseAt ?? (ended ? ended : null));
      clock('resolution', policy.targets.resolution, createdAt, ended);
      if (nextResponse) clock('next_response', policy.targets.nextResponse, nextResponse.startedAt, nextResponse.stoppedAt);
    }

    // ---- promises: a tenth of answered tickets get one.
    if (firstResponseAt && assignee && rng.chance(0.1)) {
      const dueAt = add(firstResponseAt, rng.int(1, 5) * 24 * HOUR);
      const state = dueAt >= now ? (rng.chance(0.3) ? 'kept' : 'open') : rng.weighted({ kept: 75, broken: 15, open: 10 });
      const id = rng.uuid();
      const closed = state === 'open' ? null : min(add(dueAt, -rng.int(1, 20) * HOUR), now);
      out.commitments.push({
        id,
        ticketId,
        description: rng.pick(['Refund reaches the account', 'Technician visit', 'Replacement shipped', 'Call back with the carrier answer']),
        dueAt,
        state,
        createdByAgentId: assignee,
        remindedAt: dueAt < now ? add(dueAt, -HOUR) : null,
        overdueAt: state === 'open' && dueAt < now ? dueAt : null,
        closedAt: closed,
        createdAt: firstResponseAt,
        updatedAt: closed ?? firstResponseAt,
      });
      ev('commitment_made', firstResponseAt, { commitmentId: id, dueAt }, asAgent(assignee));
      if (state === 'open' && dueAt < now) {
        out.breaches.push({ ticketId, commitmentId: id, metric: 'commitment', channel, teamId: team.id, severity: PRIORITIES.indexOf(priority), dueAt, breachedAt: dueAt });
      }
    }

    // ---- CSAT: offered at the (last) solve; about 40% answer, happier when it went smoothly.
    if (solvedAt) {
      const respondedAt = add(solvedAt, rng.lognormal(6 * HOUR, 1));
      const responds = rng.chance(0.4) && respondedAt < now;
      const smooth = fcrState !== 'no' && reopenCount === 0;
      const score = Number(smooth ? rng.weighted({ 5: 55, 4: 27, 3: 9, 2: 4, 1: 5 } as Record<string, number>) : rng.weighted({ 5: 15, 4: 20, 3: 25, 2: 18, 1: 22 } as Record<string, number>));
      out.surveys.push({
        ticketId,
        tokenHash: rng.hex(32),
        agentId: assignee,
        teamId: team.id,
        channel,
        language,
        offeredAt: solvedAt,
        expiresAt: add(solvedAt, 14 * 24 * HOUR),
        respondedAt: responds ? respondedAt : null,
        score: responds ? score : null,
        comment: responds && score <= 2 ? 'Too slow.' : null,
        createdAt: solvedAt,
      });
    }
  }
  // Identity ids then follow time, as they would have on a live system.
  const byTime = (a: { createdAt?: Date | undefined }, b: { createdAt?: Date | undefined }) => a.createdAt!.getTime() - b.createdAt!.getTime();
  out.events.sort(byTime);
  out.messages.sort(byTime);
  return out;
}

// ---- writing -------------------------------------------------------------------------------------

/**
 * Set-based inserts: each chunk of rows travels as ONE jsonb parameter and Postgres expands it with
 * jsonb_populate_recordset, so a chunk is a single statement with a single bind value. Columns no
 * row sets are left to their database defaults; a row that lacks a column another row sets gets
 * the column's default value from the schema (else NULL).
 */
async function insertAll<T extends PgTable>(tx: Executor, table: T, rows: Row<T>[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = getTableColumns(table) as Record<string, PgColumn>;
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row as object)))];
  const fallback = new Map(keys.map((k) => [k, columns[k]!.default !== undefined && !is(columns[k]!.default, SQL) ? columns[k]!.default : null]));
  const list = sql.raw(keys.map((k) => `"${columns[k]!.name}"`).join(', '));
  const records = rows.map((row) => Object.fromEntries(keys.map((k) => [columns[k]!.name, (row as Record<string, unknown>)[k] ?? fallback.get(k)])));
  for (let i = 0; i < records.length; i += 5000) {
    const chunk = JSON.stringify(records.slice(i, i + 5000));
    await tx.execute(sql`insert into ${table} (${list}) select ${list} from jsonb_populate_recordset(null::${table}, ${chunk}::jsonb)`);
  }
}

async function wipe(db: Database): Promise<void> {
  // tickets cascades to messages, events, clocks, breaches, commitments, surveys, outbox…; agents
  // are deleted (not truncated) so API keys bound to them survive, unbound.
  await db.execute(sql`truncate table tickets, customer_identities, customers restart identity cascade`);
  await db.execute(sql`update teams set lead_agent_id = null`);
  // Issue 16: presence rows hold agents; the reason tree and root causes are demo data too.
  await db.execute(sql`delete from agent_presence_events`);
  await db.execute(sql`delete from reasons where parent_id is not null`);
  await db.execute(sql`delete from reasons`);
  await db.execute(sql`delete from root_causes`);
  await db.execute(sql`delete from agents`);
  await db.execute(sql`delete from teams`);
}

export async function seedDemo(options: SeedOptions): Promise<SeedSummary> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const settings = {
    tickets: options.tickets ?? 3000,
    customers: options.customers ?? 300,
    days: options.days ?? 30,
    seed: options.seed ?? 42,
    now: options.now ?? new Date(Math.floor(Date.now() / HOUR) * HOUR),
  };
  await ensureDatabase(options.databaseUrl);
  const pool = createPool(options.databaseUrl, 4);
  try {
    await runMigrations(pool);
    const db = createDatabase(pool);
    const [{ count } = { count: 0 }] = (await db.execute<{ count: number }>(sql`select count(*)::int as count from tickets`)).rows;
    if (count > 0 && !options.force) throw new SeedRefusedError(`The database already has ${count} tickets; run with --force to delete them (and all customers, agents and teams) first.`);
    if (count > 0) {
      log(`--force: deleting ${count} tickets and every customer, agent and team`);
      await wipe(db);
    }
    if (await installDefaultPolicies(db)) log('installed the default SLA policies');
    const { policies } = await loadPolicies(db);
    let mark = Date.now();
    const data = generate(settings, policies);
    log(`generated in ${Date.now() - mark} ms`);
    mark = Date.now();
    await db.transaction(async (tx) => {
      await insertAll(tx, teams, data.teams);
      await insertAll(tx, agents, data.agents);
      await insertAll(tx, customers, data.customers);
      await insertAll(tx, customerIdentities, data.identities);
      await insertAll(tx, tickets, data.tickets);
      await insertAll(tx, messages, data.messages);
      await insertAll(tx, ticketEvents, data.events);
      await insertAll(tx, slaClocks, data.clocks);
      await insertAll(tx, commitments, data.commitments);
      await insertAll(tx, breaches, data.breaches);
      await insertAll(tx, csatSurveys, data.surveys);
    });
    log(`inserted in ${Date.now() - mark} ms`);
    // Issue 16: work intervals, queue calls, reasons and root causes, redress, CES/NPS answers and presence.
    const contact = await seedContactFacts(pool, { from: add(settings.now, -settings.days * 24 * HOUR), to: settings.now });
    log(`contact-center facts: ${JSON.stringify(contact.counts)}`);
    await db.execute(sql`analyze`);
    const admin = await createApiKeyService({ db, clock: systemClock }).create({ name: `demo admin ${randomBytes(2).toString('hex')}`, role: 'admin' });
    const byStatus: Record<string, number> = {};
    for (const t of data.tickets) byStatus[t.status] = (byStatus[t.status] ?? 0) + 1;
    return {
      teams: data.teams.length,
      agents: data.agents.length,
      customers: data.customers.length,
      identities: data.identities.length,
      tickets: data.tickets.length,
      messages: data.messages.length,
      events: data.events.length,
      clocks: data.clocks.length,
      breaches: data.breaches.length,
      commitments: data.commitments.length,
      surveys: data.surveys.length,
      byStatus,
      adminToken: admin.token,
      from: add(settings.now, -settings.days * 24 * HOUR),
      to: settings.now,
      ms: Date.now() - started,
    };
  } finally {
    await pool.end();
  }
}

// ---- command line ----------------------------------------------------------------------------------

function parseArgs(argv: string[]): Omit<SeedOptions, 'databaseUrl'> {
  const options: Omit<SeedOptions, 'databaseUrl'> = {};
  const number = (flag: string, value: string | undefined): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new SeedRefusedError(`${flag} needs a whole number, got ${value}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--force') options.force = true;
    else if (flag === '--tickets') options.tickets = number(flag, value());
    else if (flag === '--customers') options.customers = Math.max(1, number(flag, value()));
    else if (flag === '--days') options.days = Math.max(1, number(flag, value()));
    else if (flag === '--seed') options.seed = number(flag, value());
    else if (flag === '--now') {
      const raw = value();
      const now = new Date(raw ?? '');
      if (Number.isNaN(now.getTime())) throw new SeedRefusedError(`--now needs an ISO date-time, got ${raw}`);
      options.now = now;
    } else throw new SeedRefusedError(`unknown option ${arg}; options: --tickets N --customers N --days N --seed N --now ISO --force`);
  }
  return options;
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/complaint_desk';
  const options = parseArgs(process.argv.slice(2));
  console.log(`seeding ${databaseUrl.replace(/\/\/[^@/]*@/, '//…@')}`);
  const s = await seedDemo({ ...options, databaseUrl, log: (line) => console.log(line) });
  const statuses = Object.entries(s.byStatus)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(`created in ${(s.ms / 1000).toFixed(1)} s, history ${s.from.toISOString()} .. ${s.to.toISOString()}:
  ${s.teams} teams, ${s.agents} agents, ${s.customers} customers (${s.identities} identities)
  ${s.tickets} tickets (${statuses})
  ${s.messages} messages, ${s.events} timeline events
  ${s.clocks} SLA clocks, ${s.breaches} breaches, ${s.commitments} commitments, ${s.surveys} CSAT surveys

Admin API key (shown once):
  ${s.adminToken}

Try:
  curl -H "Authorization: Bearer ${s.adminToken}" "http://localhost:3000/v1/reports/kpis?from=${s.from.toISOString()}&to=${s.to.toISOString()}&groupBy=channel"`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof SeedRefusedError ? error.message : error);
    process.exit(1);
  });
}

