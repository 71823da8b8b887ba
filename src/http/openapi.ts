import type { App } from './types.js';

export const OPENAPI_PATH = new URL('../../openapi/openapi.json', import.meta.url);

/** The OpenAPI document as checked in: stable key order from the routes, 2-space JSON. */
export function renderOpenApi(app: App): string {
  return `${JSON.stringify(app.swagger(), null, 2)}\n`;
}
