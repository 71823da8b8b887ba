import type { AddressInfo } from 'node:net';
import type { App } from '../../src/http/types.js';

/** Makes the app listen on a free port of 127.0.0.1; answers its base URL (no trailing slash). */
export async function listen(app: App): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

/**
 * Closes an app that served streams over a real port. fetch (undici) may leave a spare
 * keep-alive socket that never carries a request: not "idle" to the server, it would hold the
 * close for undici's own timeout, so every connection, present or arriving, is cut before
 * `close` (the test context's, which closes the app) runs.
 */
export async function closeListening(server: App['server'] | undefined, close: () => Promise<unknown>): Promise<void> {
  server?.on('connection', (socket) => socket.destroy());
  server?.closeAllConnections();
  await close();
}
