import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Copies of shared/corpus/email; sources and licenses in tests/fixtures/email/README.md. */
export const FIXTURE_DIR = fileURLToPath(new URL('../../../fixtures/email/', import.meta.url));

export const FIXTURE_FOLDERS = ['chatwoot', 'mailparser', 'seeded'] as const;

export function fixture(path: string): Buffer {
  return readFileSync(`${FIXTURE_DIR}${path}`);
}

export function allFixtures(): string[] {
  return FIXTURE_FOLDERS.flatMap((folder) =>
    readdirSync(`${FIXTURE_DIR}${folder}`)
      .filter((name) => name.endsWith('.eml'))
      .sort()
      .map((name) => `${folder}/${name}`),
  );
}

export const RECEIVED_AT = new Date('2026-03-12T08:00:00Z');
