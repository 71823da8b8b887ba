import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        // Pure domain and parser tests: no database, no Redis, no global setup.
        test: { name: 'unit', include: ['tests/unit/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          // Each file gets its own database and Redis prefix, so files run in parallel safely.
          globalSetup: ['tests/helpers/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          // Debian's Chromium driven by playwright-core (tests/helpers/browser.ts), against the
          // app listening on a port; same databases as the integration tests.
          include: ['tests/browser/**/*.test.ts'],
          globalSetup: ['tests/helpers/global-setup.ts'],
          // A browser start and a page like swagger-ui take seconds on a loaded 2-core runner: the
          // waits inside are bounded by conditions, this only bounds a test as a whole.
          testTimeout: 120_000,
        },
      },
    ],
  },
});
