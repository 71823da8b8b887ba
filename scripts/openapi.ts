/** Writes openapi/openapi.json from the routes (npm run openapi). A test fails when it is stale. */
import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createDependencies } from '../src/dependencies.js';
import { OPENAPI_PATH, renderOpenApi } from '../src/http/openapi.js';

const deps = createDependencies(loadConfig({ ...process.env, LOG_LEVEL: 'silent' }), { logger: pino({ level: 'silent' }) });
const app = await buildApp(deps);
await app.ready();
await writeFile(OPENAPI_PATH, renderOpenApi(app));
await app.close();
await deps.close();
console.log(`wrote ${OPENAPI_PATH.pathname}`);
