import type { FastifyInstance } from 'fastify';

/**
 * The methods each route path answers, to tell "no such path" (404) from "not with this method"
 * (405 with Allow, RFC 9110 §15.5.6). Filled from the routes as they are declared.
 */
export interface AllowedMethods {
  /** The methods the concrete path (no query) answers; empty when no route matches it. */
  of(path: string): string[];
}

export function trackAllowedMethods(app: FastifyInstance): AllowedMethods {
  const routes: { pattern: RegExp; methods: Set<string> }[] = [];
  const byUrl = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    // The catch-all OPTIONS route of the CORS plugin matches every path: it says nothing.
    if (route.url === '*' || route.url === '/*') return;
    let methods = byUrl.get(route.url);
    if (!methods) {
      methods = new Set();
      byUrl.set(route.url, methods);
      routes.push({ pattern: patternOf(route.url), methods });
    }
    for (const method of [route.method].flat()) methods.add(method.toUpperCase());
  });
  return {
    of(path) {
      const allowed = new Set<string>();
      for (const route of routes) if (route.pattern.test(path)) for (const method of route.methods) allowed.add(method);
      return [...allowed].sort();
    },
  };
}

/** "/v1/tickets/:id" → /^\/v1\/tickets\/[^/]+$/ ("*" matches the rest). */
function patternOf(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}
