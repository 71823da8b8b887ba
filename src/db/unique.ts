import { conflict } from '../shared/errors.js';

/** Postgres unique_violation, as raised by pg or wrapped by drizzle. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string } };
  return e.code === '23505' || e.cause?.code === '23505';
}

/** Runs a write; a unique-index violation becomes a 409 "duplicate" problem saying `detail`. */
export async function uniqueOrConflict<T>(write: () => Promise<T>, detail: string): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict('duplicate', detail);
    throw error;
  }
}
