import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
// Types only: the module itself is imported on demand (a dev dependency, absent in the image).
import type * as Esbuild from 'esbuild';

/** The browser bundles: src/web/<name>.ts (and the CSS it imports), built by `npm run build:web`. */
export const WEB_BUNDLES = ['ops', 'csat'] as const;
export type WebBundle = (typeof WEB_BUNDLES)[number];
export type WebAssetKind = 'js' | 'css';

export interface WebAsset {
  body: Buffer;
  contentType: string;
  /** A digest of the body: the pages reference `?v=<hash>`, so a cached copy is never stale. */
  hash: string;
}

const CONTENT_TYPES: Record<WebAssetKind, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

// Next to the compiled server (dist/modules/ops/ → dist/public/); from source (tsx) this
// resolves to src/public/, which does not exist, and the bundle is built in memory instead.
const BUILT_DIR = new URL('../../public/', import.meta.url);
const SOURCE_DIR = new URL('../../web/', import.meta.url);

function asset(body: Buffer | Uint8Array, kind: WebAssetKind): WebAsset {
  const buffer = Buffer.from(body);
  return { body: buffer, contentType: CONTENT_TYPES[kind], hash: createHash('sha256').update(buffer).digest('base64url').slice(0, 16) };
}

async function readBuilt(name: WebBundle): Promise<Record<WebAssetKind, WebAsset> | undefined> {
  try {
    const [js, css] = await Promise.all([readFile(new URL(`${name}.js`, BUILT_DIR)), readFile(new URL(`${name}.css`, BUILT_DIR))]);
    return { js: asset(js, 'js'), css: asset(css, 'css') };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Running from source (npm run dev, the tests) there is no dist/public: esbuild (a dev
 * dependency) builds the same bundle in memory, with the options of `npm run build:web`.
 */
async function buildInMemory(name: WebBundle): Promise<Record<WebAssetKind, WebAsset>> {
  let esbuild: typeof Esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error(`The ${name} page's bundle is missing (dist/public/${name}.js): run npm run build`);
  }
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL(`${name}.ts`, SOURCE_DIR))],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    write: false,
    outdir: '/bundle',
    logLevel: 'silent',
  });
  const pick = (ext: string) => result.outputFiles.find((f) => f.path.endsWith(`.${ext}`));
  const js = pick('js');
  const css = pick('css');
  if (!js || !css) throw new Error(`esbuild produced no ${!js ? 'js' : 'css'} for ${name}`);
  return { js: asset(js.contents, 'js'), css: asset(css.contents, 'css') };
}

/** Loads each bundle once per process (built files first, else an in-memory build). */
export function createWebAssets() {
  const cache = new Map<WebBundle, Promise<Record<WebAssetKind, WebAsset>>>();
  return {
    get(name: WebBundle): Promise<Record<WebAssetKind, WebAsset>> {
      let pending = cache.get(name);
      if (!pending) {
        pending = readBuilt(name).then((built) => built ?? buildInMemory(name));
        // A failed load is retried by the next request rather than cached.
        pending.catch(() => cache.delete(name));
        cache.set(name, pending);
      }
      return pending;
    },
  };
}

export type WebAssets = ReturnType<typeof createWebAssets>;

/**
 * The Content-Security-Policy of our HTML pages: scripts, styles and fetches from this origin
 * only, nothing inline, no plugins, no framing, forms only back to us.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // data: only for the empty favicon the pages declare (else the browser asks for /favicon.ico).
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Escapes text for HTML content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
