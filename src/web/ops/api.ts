
/** The answer of a refused call, with the problem's detail when the API sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  /** Where a person signs in again when the session has expired (with ?next= back here). */
  loginUrl: string;
}

/**
 * Calls to the API with the session cookie (same origin, so the browser sends it). An expired
 * or missing session (401) goes back to the sign-in form; a role that may not see the wall
 * (403) reloads the page, which then answers its 403 page. Other failures are thrown for the
 * caller, who keeps showing what it has and retries at its next refresh.
 */
export function createApi(options: ApiOptions) {
  let leaving = false;
  const toLogin = () => {
    if (leaving) return;
    leaving = true;
    const next = `${location.pathname}${location.search}`;
    location.assign(`${options.loginUrl}${options.loginUrl.includes('?') ? '&' : '?'}next=${encodeURIComponent(next)}`);
  };

  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      // So that a POST carries our Origin (under no-referrer it would say "null" and be refused).
      referrerPolicy: 'same-origin',
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      toLogin();
      throw new ApiError(401, 'signed out');
    }
    if (response.status === 403 && method === 'GET') {
      // The role changed under the page: the page itself then answers its 403 page. Once a
      // minute at most, so a refusal the page does not share cannot make it reload in a loop.
      const last = Number(sessionStorage.getItem('ops.reloaded') ?? 0);
      if (Date.now() - last > 60_000) {
        sessionStorage.setItem('ops.reloaded', String(Date.now()));
        location.reload();
      }
      throw new ApiError(403, 'forbidden');
    }
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const problem = (await response.json()) as { detail?: string; title?: string };
        detail = problem.detail ?? problem.title ?? detail;
      } catch {
        // not a problem body
      }
      throw new ApiError(response.status, detail);
    }
    return (await response.json()) as T;
  }

  return {
    get: <T>(path: string) => call<T>('GET', path),
    post: <T>(path: string, body: unknown) => call<T>('POST', path, body),
    /** Is the session still good? (After the stream failed: a 401 sends the person to sign in.) */
    async check(path: string): Promise<void> {
      await call('GET', path).catch(() => undefined);
    },
  };
}

export type Api = ReturnType<typeof createApi>;
