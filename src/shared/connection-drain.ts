import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Ends, at shutdown, the connections that carry no request: Node's server.close() waits for
 * every open socket, and closes only those it counts as idle — not one a client (a load
 * balancer, fetch's connection pool) opened and has not used yet, which would hold the
 * shutdown until the grace period ends and the process exits 1. A connection busy with a
 * request is ended when its last response is done, never in the middle of it.
 */
export function trackConnections(server: Server): { drain(): void } {
  const inFlight = new Map<Socket, number>();
  let draining = false;
  server.on('connection', (socket: Socket) => {
    if (draining) {
      socket.destroy();
      return;
    }
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  server.on('request', (request, response) => {
    const socket = request.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const left = Math.max(0, (inFlight.get(socket) ?? 1) - 1);
      inFlight.set(socket, left);
      // end(), not destroy(): the response's last bytes still go out before the FIN.
      if (draining && left === 0) socket.end();
    });
  });
  return {
    drain() {
      draining = true;
      for (const [socket, requests] of inFlight) if (requests === 0) socket.destroy();
    },
  };
}
