import type pg from 'pg';

/**
 * Bulk seeding in set-based SQL (INSERT … SELECT FROM generate_series): a month of complaint
 * traffic with customers and their identities, tickets, the first customer message and an
 * agent reply, and the timeline events. Secondary indexes are dropped during the load and
 * rebuilt after it (a sorted build beats a million single inserts into thirteen indexes), and
 * the tables are vacuumed and analyzed so the planner sees what a live system would.
 */
export interface SeedOptions {
  tickets: number;
  /** created_at spreads uniformly over this many days before `now`. */
  days?: number;
  now?: Date;
  log?: (message: string) => void;
  /**
   * Runs on one of the seeding connections after the rows are loaded and before the secondary
   * indexes are rebuilt (foreign-key triggers still off): an UPDATE of every ticket then
   * rewrites heap rows only, not twenty index entries each (bench/lib/month.ts classifies the
   * tickets for issue 16 here). Timed as the phase "before indexes".
   */
  beforeIndexes?: (client: pg.PoolClient) => Promise<void>;
}

export interface SeedResult {
  tickets: number;
  customers: number;
  messages: number;
  events: number;
  seconds: number;
  phases: Record<string, number>;
  /** Words planted in subjects and descriptions, for text-search benchmarks. */
  searchWords: { common: string; rare: string };
}

const SEEDED_TABLES = ['customers', 'customer_identities', 'tickets', 'messages', 'ticket_events'];

const TEAMS = ['Billing', 'Delivery', 'Returns', 'Technical', 'VIP', 'Social media'];
const AGENTS_PER_TEAM = 6;

// Six complaint templates per language; "{n}" becomes an order number. The English second
// template plants "refund" in about 4% of tickets; "chargeback" goes into 0.1% of descriptions.
const SUBJECTS: Record<string, string[]> = {
  en: [
    'Order #{n} arrived damaged',
    'Refund not received for order #{n}',
    'Charged twice for invoice {n}',
    'Courier never delivered parcel {n}',
    'Rude agent on the hotline, case {n}',
    'Cannot log in to my account {n}',
  ],
  he: [
    'ההזמנה {n} הגיעה פגומה',
    'לא קיבלתי החזר כספי על הזמנה {n}',
    'חויבתי פעמיים בחשבונית {n}',
    'השליח לא הגיע עם חבילה {n}',
    'נציג לא אדיב במוקד, פנייה {n}',
    'לא מצליח להתחבר לחשבון {n}',
  ],
  pl: [
    'Zamówienie {n} dotarło uszkodzone',
    'Brak zwrotu pieniędzy za zamówienie {n}',
    'Podwójne obciążenie za fakturę {n}',
    'Kurier nie dostarczył paczki {n}',
    'Niegrzeczny konsultant na infolinii, sprawa {n}',
    'Nie mogę zalogować się do konta {n}',
  ],
  ar: [
    'الطلب {n} وصل تالفا',
    'لم أستلم المبلغ المسترد للطلب {n}',
    'تم خصم المبلغ مرتين للفاتورة {n}',
    'المندوب لم يسلم الطرد {n}',
    'موظف غير مهذب في الخط الساخن {n}',
    'لا أستطيع الدخول إلى حسابي {n}',
  ],
  ru: [
    'Заказ {n} пришёл повреждённым',
    'Не получил возврат за заказ {n}',
    'Дважды списали деньги по счёту {n}',
    'Курьер не доставил посылку {n}',
    'Грубый оператор на горячей линии {n}',
    'Не могу войти в аккаунт {n}',
  ],
};

const sqlText = (value: string) => `'${value.replaceAll("'", "''")}'`;
const sqlArray = (values: string[]) => `array[${values.map(sqlText).join(', ')}]`;

/** A deterministic, roughly uniform integer in [0, mod) from an integer expression and a salt. */
const hashMod = (expr: string, salt: number, mod: number) => `((hashint8((${expr})::bigint * 31 + ${salt}) % ${mod} + ${mod}) % ${mod})`;

/** A valid RFC 4122 version-4 uuid derived from a text expression (the API validates ids as such). */
const uuidOf = (expr: string) => `overlay(overlay(md5(${expr}) placing '4' from 13) placing '8' from 17)::uuid`;

/** The channel and language of customer number `ci`, used for them and for their tickets. */
const customerChannel = (ci: string) =>
  `(case when ${hashMod(ci, 1, 100)} < 40 then 'email' when ${hashMod(ci, 1, 100)} < 65 then 'phone' when ${hashMod(ci, 1, 100)} < 85 then 'facebook' else 'twitter' end)`;
const customerLanguage = (ci: string) =>
  `(case when ${hashMod(ci, 2, 100)} < 35 then 'he' when ${hashMod(ci, 2, 100)} < 60 then 'pl' when ${hashMod(ci, 2, 100)} < 85 then 'en' when ${hashMod(ci, 2, 100)} < 95 then 'ar' else 'ru' end)`;

/** Statements run one after another on one connection; lanes run side by side. */
type Lane = string[];

/**
 * Splits work over LANES connections: the machine has two cores, and one backend inserting
 * (tsvector, uuid primary key, WAL) is CPU-bound.
 */
const LANES = 2;

/** Longest-first assignment of weighted statements to lanes. */
function balance(items: { statement: string; weight: number }[], lanes: number): Lane[] {
  const out: { load: number; statements: string[] }[] = Array.from({ length: lanes }, () => ({ load: 0, statements: [] }));
  for (const item of [...items].sort((a, b) => b.weight - a.weight)) {
    const lightest = out.reduce((min, lane) => (lane.load < min.load ? lane : min));
    lightest.statements.push(item.statement);
    lightest.load += item.weight;
  }
  return out.map((lane) => lane.statements);
}

export async function seedTickets(pool: pg.Pool, options: SeedOptions): Promise<SeedResult> {
  const n = Math.max(1, Math.floor(options.tickets));
  const customerCount = Math.max(1, Math.ceil(n * 0.6));
  const days = options.days ?? 30;
  const now = (options.now ?? new Date()).toISOString();
  /**
   * A step whose drawn time falls after the seed's now (a young ticket drawn solved, say) is put
   * at a random instant between the step before it and now. Clamping it to now stacked 45,101
   * responses, solutions and closures on that one instant at 1,000,000 tickets (the same hour a
   * day earlier holds 1,262 solutions and closures), and every report whose range took in the
   * seed's last hour read that pile live.
   */
  const notAfterNow = (step: string, before: string) => `case when ${step} > $$${now}$$::timestamptz then ${before} + ($$${now}$$::timestamptz - ${before}) * random() else ${step} end`;
  const log = options.log ?? (() => undefined);
  const phases: Record<string, number> = {};
  const started = performance.now();
  const clients = await Promise.all(Array.from({ length: LANES }, () => pool.connect()));
  const main = clients[0]!;

  async function phase(name: string, lanes: Lane[]): Promise<void> {
    const t0 = performance.now();
    await Promise.all(
      lanes.map(async (statements, i) => {
        for (const statement of statements) await clients[i]!.query(statement);
      }),
    );
    phases[name] = (performance.now() - t0) / 1000;
    log(`seed: ${name} ${phases[name]!.toFixed(1)} s`);
  }
  /** The same statement once per lane, lane k working on its own share of the rows. */
  const perLane = (statement: (lane: number) => string): Lane[] => Array.from({ length: LANES }, (_, k) => [statement(k)]);
  const rangeOf = (k: number, total: number) => [Math.floor((k * total) / LANES), Math.floor(((k + 1) * total) / LANES) - 1] as const;

  try {
    let superuser = true;
    for (const [k, client] of clients.entries()) {
      await client.query(`set maintenance_work_mem = '256MB'`);
      await client.query(`set work_mem = '64MB'`);
      // Seeding is not a durability test; the measured phases run with the server's settings.
      await client.query(`set synchronous_commit = off`);
      // Generated rows are consistent by construction: skip the per-row foreign-key triggers
      // (superuser only; without it the load is merely slower).
      await client.query(`set session_replication_role = replica`).catch(() => {
        superuser = false;
      });
      await client.query(`select setseed(${0.42 + k / 100})`);
    }
    if (!superuser) log('seed: not a superuser, foreign-key checks stay on');

    const { rows: indexes } = await main.query<{ name: string; definition: string; table: string; method: string }>(
      `select i.relname as name, pg_get_indexdef(i.oid) as definition, t.relname as table, am.amname as method
         from pg_index x
         join pg_class i on i.oid = x.indexrelid
         join pg_class t on t.oid = x.indrelid
         join pg_am am on am.oid = i.relam
        where t.relname = any($1) and t.relnamespace = 'public'::regnamespace
          and not x.indisprimary
          and not exists (select 1 from pg_constraint c where c.conindid = x.indexrelid)`,
      [SEEDED_TABLES],
    );
    await phase('drop secondary indexes', [indexes.map((index) => `drop index "${index.name}"`)]);

    await phase('teams and agents', [
      [
        `insert into teams (name) select unnest(${sqlArray(TEAMS)})`,
        `insert into agents (name, email, team_id, languages)
         select 'Agent ' || g, 'agent' || g || '@desk.bench.invalid', t.id,
                (array['{he,en}', '{pl,en}', '{en,ar}', '{he,ru}'])[1 + g % 4]::text[]
           from generate_series(0, ${TEAMS.length * AGENTS_PER_TEAM - 1}) g
           join (select id, row_number() over (order by name) - 1 as k from teams) t on t.k = g % ${TEAMS.length}`,
      ],
    ]);

    await phase('customers and identities', [
      [
        `insert into customers (id, name, language, created_at, updated_at)
         select ${uuidOf(`'customer:' || c`)}, 'Customer ' || c, ${customerLanguage('c')},
                $$${now}$$::timestamptz - interval '90 days' * random(), $$${now}$$::timestamptz
           from generate_series(0, ${customerCount - 1}) c`,
      ],
      [
        `insert into customer_identities (customer_id, kind, address, display_name, created_at)
         select ${uuidOf(`'customer:' || c`)}, kind,
                case kind
                  when 'email' then 'customer' || c || '@mail.bench.invalid'
                  when 'phone' then '+9725' || lpad(c::text, 8, '0')
                  when 'facebook' then '105320418834911:' || (7000000000000000 + c)
                  else (1200000000000000000 + c)::text
                end,
                'Customer ' || c, $$${now}$$::timestamptz - interval '90 days'
           from (select c, ${customerChannel('c')} as kind from generate_series(0, ${customerCount - 1}) c) s`,
      ],
    ]);

    const subjectByLanguage = `(case s.language ${Object.entries(SUBJECTS)
      .map(([language, list]) => `when '${language}' then ${sqlArray(list)}`)
      .join(' ')} end)[1 + floor(s.r_subject * 6)::int]`;
    await phase(
      'tickets',
      perLane(
        (k) =>
          `insert into tickets (status, priority, channel, subject, description, customer_id, assignee_id, team_id, language, tags,
                                first_assigned_at, first_response_at, solved_at, closed_at, reopen_count, handoff_count, version,
                                created_at, updated_at)
           with ag as (select row_number() over (order by email) - 1 as k, id, team_id from agents),
           base as (
             select i, ${hashMod('i', 3, customerCount)} as ci, random() as r_age, random() as r_status, random() as r_priority,
                    random() as r_agent, random() as r_subject, random() as r_response, random() as r_solve, random() as r_extra
               from generate_series(${rangeOf(k, n)[0] + 1}, ${rangeOf(k, n)[1] + 1}) i
           ),
           s as (
             select b.*, ${customerChannel('b.ci')} as channel, ${customerLanguage('b.ci')} as language,
                    $$${now}$$::timestamptz - interval '1 day' * (b.r_age * ${days}) as created_at,
                    case
                      when b.r_age * ${days} < 1 then case when r_status < .30 then 'new' when r_status < .75 then 'open' when r_status < .90 then 'pending' when r_status < .95 then 'on_hold' else 'solved' end
                      when b.r_age * ${days} < 7 then case when r_status < .03 then 'new' when r_status < .28 then 'open' when r_status < .40 then 'pending' when r_status < .45 then 'on_hold' when r_status < .70 then 'solved' else 'closed' end
                      else case when r_status < .05 then 'open' when r_status < .08 then 'pending' when r_status < .09 then 'on_hold' when r_status < .15 then 'solved' else 'closed' end
                    end as status
               from base b
           ),
           t as (
             select s.*, ag.id as agent_id, ag.team_id as agent_team_id,
                    replace(${subjectByLanguage}, '{n}', (100000 + s.i)::text) as subject,
                    case when s.status = 'new' then null else s.created_at + interval '30 minutes' * s.r_response end as assigned_at,
                    case when s.status in ('new') or (s.status = 'open' and s.r_response > .7) then null
                         else ${notAfterNow(`s.created_at + interval '4 hours' * s.r_response`, 's.created_at')} end as responded_at,
                    case when s.status in ('solved', 'closed') then ${notAfterNow(`s.created_at + interval '72 hours' * s.r_solve`, 's.created_at')} end as solved_at
               from s join ag on ag.k = floor(s.r_agent * ${TEAMS.length * AGENTS_PER_TEAM})
           ),
           u as (
             select t.*, case when t.status = 'closed' then ${notAfterNow(`t.solved_at + interval '1 day' * (1 + 3 * t.r_extra)`, 't.solved_at')} end as closed_at from t
           )
           select t.status,
                  case when t.r_priority < .15 then 'low' when t.r_priority < .75 then 'normal' when t.r_priority < .95 then 'high' else 'urgent' end,
                  t.channel, t.subject,
                  case when t.r_extra < .001 then 'I will file a chargeback with my bank. ' else '' end
                    || 'Customer ' || t.ci || ' wrote about this on ' || to_char(t.created_at, 'YYYY-MM-DD') || '.',
                  ${uuidOf(`'customer:' || t.ci`)},
                  case when t.status = 'new' then null else t.agent_id end,
                  case when t.status = 'new' and t.r_agent < .5 then null else t.agent_team_id end,
                  t.language,
                  case when t.r_extra > .95 then '{vip}'::text[] when t.r_extra > .85 then '{delivery}'::text[] else '{}'::text[] end,
                  t.assigned_at, t.responded_at, t.solved_at, t.closed_at,
                  case when t.r_extra between .40 and .43 then 1 else 0 end,
                  case when t.r_extra between .50 and .60 then 1 else 0 end,
                  1 + (t.assigned_at is not null)::int + (t.responded_at is not null)::int + (t.solved_at is not null)::int + (t.status = 'closed')::int,
                  t.created_at,
                  greatest(t.created_at, t.assigned_at, t.responded_at, t.solved_at, t.closed_at)
             from u t`,
      ),
    );

    // Each lane takes the tickets with number % LANES = k.
    await phase(
      'messages',
      perLane((k) => `insert into messages (ticket_id, direction, kind, public, author_kind, channel, provider_message_id, message_id_header,
                             subject, body_text, language, sent_at, created_at)
       select id, 'inbound', case when channel = 'phone' then 'call' else 'message' end, true, 'customer', channel,
              'seed:' || number, case when channel = 'email' then '<seed-' || number || '@mail.bench.invalid>' end,
              case when channel = 'email' then subject end, description, language, created_at, created_at
         from tickets where number % ${LANES} = ${k}`).map((lane, k) => [
        ...lane,
        `insert into messages (ticket_id, direction, kind, public, author_kind, author_agent_id, channel, body_text, language,
                               delivery_state, delivery_attempts, sent_at, created_at)
         select id, 'outbound', 'message', true, 'agent', assignee_id, channel,
                'Thank you for writing to us; we are looking into ticket #' || number || '.', language,
                'sent', 1, first_response_at, first_response_at
           from tickets where first_response_at is not null and number % ${LANES} = ${k}`,
      ]),
    );

    await phase(
      'timeline events',
      perLane(
        (k) => `insert into ticket_events (ticket_id, type, actor_kind, actor_id, data, created_at)
       select t.id, e.type, e.actor_kind, e.actor_id, e.data, e.at
         from tickets t
        cross join lateral (values
          ('created', 'customer', null::text, jsonb_build_object('channel', t.channel, 'source', 'seed'), t.created_at),
          ('customer_message', 'customer', null::text, '{}'::jsonb, t.created_at),
          ('assigned', 'system', null::text, jsonb_build_object('from', null, 'to', t.assignee_id), t.first_assigned_at),
          ('agent_reply', 'agent', t.assignee_id::text, '{}'::jsonb, t.first_response_at),
          ('status_changed', 'agent', t.assignee_id::text, jsonb_build_object('to', 'solved'), t.solved_at),
          ('status_changed', 'system', null::text, jsonb_build_object('from', 'solved', 'to', 'closed'), t.closed_at)
        ) as e(type, actor_kind, actor_id, data, at)
        where e.at is not null and t.number % ${LANES} = ${k}`,
      ),
    );

    if (options.beforeIndexes) {
      const t0 = performance.now();
      await options.beforeIndexes(main);
      phases['before indexes'] = (performance.now() - t0) / 1000;
      log(`seed: before indexes ${phases['before indexes']!.toFixed(1)} s`);
    }

    // A GIN build reads every document and is not parallel: it weighs more than a b-tree.
    const { rows: sizes } = await main.query<{ table: string; bytes: string }>(
      `select relname as table, pg_relation_size(oid)::text as bytes from pg_class where relname = any($1) and relnamespace = 'public'::regnamespace`,
      [SEEDED_TABLES],
    );
    const bytesOf = new Map(sizes.map((row) => [row.table, Number(row.bytes)]));
    await phase(
      'rebuild indexes',
      balance(
        // A partitioned table's index reads back as CREATE INDEX … ON ONLY (the parent alone, left
        // invalid): rebuilt that way, its partitions would have no index and every read would scan them.
        indexes.map((index) => ({ statement: index.definition.replace(' ON ONLY ', ' ON '), weight: (bytesOf.get(index.table) ?? 0) * (index.method === 'gin' ? 4 : 1) })),
        LANES,
      ),
    );
    for (const client of clients) await client.query(`reset session_replication_role`);
    await phase(
      'vacuum analyze',
      balance(
        [...SEEDED_TABLES.map((table) => ({ statement: `vacuum (analyze) ${table}`, weight: bytesOf.get(table) ?? 0 })), { statement: 'vacuum (analyze) teams, agents', weight: 0 }],
        LANES,
      ),
    );

    const { rows } = await main.query<{ tickets: number; customers: number; messages: number; events: number }>(
      `select (select count(*) from tickets)::int as tickets, (select count(*) from customers)::int as customers,
              (select count(*) from messages)::int as messages, (select count(*) from ticket_events)::int as events`,
    );
    const counts = rows[0]!;
    return { ...counts, seconds: (performance.now() - started) / 1000, phases, searchWords: { common: 'refund', rare: 'chargeback' } };
  } finally {
    // The pool's connections go on to run the baselines: with the server's settings, like the service's.
    for (const client of clients) {
      await client.query('reset all').catch(() => undefined);
      client.release();
    }
  }
}
