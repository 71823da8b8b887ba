import { DrizzleQueryError } from 'drizzle-orm/errors';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { censorQuotedValues, describeError, serializeError } from '../../../src/shared/error-description.js';
import { createLogger } from '../../../src/shared/logger.js';

// A failed query's values never reach a log or a dead letter's reason (issue 11 review, 5).
const ADDRESS = 'victim@customer.example';
const TEXT = 'my card number is 4111 1111 1111 1111';
const pgError = (message: string, fields: Record<string, unknown>) => Object.assign(new pg.DatabaseError(message, message.length, 'error'), { severity: 'ERROR', ...fields });
const failedQuery = () =>
  new DrizzleQueryError(
    'insert into "messages" ("body_text", "sender_address", "raw") values ($1, $2, $3)',
    [TEXT, ADDRESS, Buffer.from(TEXT)],
    pgError(`duplicate key value violates unique constraint "messages_provider_uq"`, { code: '23505', detail: `Key (sender_address)=(${ADDRESS}) already exists.`, constraint: 'messages_provider_uq', table: 'messages' }),
  );

describe('describeError', () => {
  it('describes a failed query by its driver error: SQLSTATE and message, no values', () => {
    expect(describeError(failedQuery())).toBe('23505: duplicate key value violates unique constraint "messages_provider_uq"');
  });

  it('keeps quoted names and censors quoted values in Postgres messages', () => {
    expect(censorQuotedValues('invalid input syntax for type uuid: "abc-123"')).toBe('invalid input syntax for type uuid: "[redacted]"');
    expect(censorQuotedValues('value "99999999999" is out of range for type integer')).toBe('value "[redacted]" is out of range for type integer');
    expect(censorQuotedValues('new row for relation "messages" violates check constraint "messages_kind_ck"')).toBe('new row for relation "messages" violates check constraint "messages_kind_ck"');
    expect(censorQuotedValues('null value in column "body_text" of relation "messages" violates not-null constraint')).toContain('column "body_text" of relation "messages"');
  });

  it('cuts drizzle params out of any message that quoted one, and of strings', () => {
    expect(describeError(new Error(`wrapped: ${failedQuery().message}`))).not.toContain(ADDRESS);
    expect(describeError(failedQuery().message)).not.toContain(ADDRESS);
    expect(describeError(new Error('plain'))).toBe('plain');
  });
});

describe('serializeError (the err serializer of every logger)', () => {
  it('leaves out params, query, detail and command arguments, keeps code, constraint and table', () => {
    const out = JSON.stringify(serializeError(failedQuery()));
    expect(out).not.toContain(ADDRESS);
    expect(out).not.toContain('4111');
    expect(out).not.toContain('"data":[');
    expect(serializeError(failedQuery())).toMatchObject({ type: 'DrizzleQueryError', code: '23505', constraint: 'messages_provider_uq', table: 'messages' });
    const redisError = Object.assign(new Error('ERR wrong number of arguments'), { command: { name: 'evalsha', args: ['sha', ADDRESS] } });
    expect(JSON.stringify(serializeError(redisError))).not.toContain(ADDRESS);
  });

  it('follows causes and aggregate errors', () => {
    const wrapped = new Error('ingest failed', { cause: failedQuery() });
    const out = JSON.stringify(serializeError(new AggregateError([wrapped], 'both failed')));
    expect(out).toContain('23505');
    expect(out).not.toContain(ADDRESS);
  });

  it('is what createLogger writes, also when an error is logged without a message', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', pretty: false, destination: { write: (line: string) => void lines.push(line) } });
    logger.error({ err: failedQuery() }, 'request failed');
    logger.error(failedQuery());
    logger.error({ err: failedQuery() });
    logger.warn({ err: failedQuery().message }, 'job failed');
    logger.child({ reqId: 'r1' }).error({ err: failedQuery() }, 'in a child');
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      expect(line).not.toContain(ADDRESS);
      expect(line).not.toContain('4111');
    }
    expect(JSON.parse(lines[1]!).msg).toBe('23505: duplicate key value violates unique constraint "messages_provider_uq"');
  });
});
