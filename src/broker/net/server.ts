import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../logger.ts';
import { Connection, type ConnectionLimits, type FrameHandler } from './connection.ts';

export interface SocketServerOptions {
  host: string;
  port: number;
  limits: ConnectionLimits;
  handle: FrameHandler;
  logger: Logger;
}

/** Accepts TCP connections and owns the set of live ones. */
export class SocketServer {
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  readonly #options: SocketServerOptions;

  constructor(options: SocketServerOptions) {
    this.#options = options;
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
  }

  #accept(socket: Socket): void {
    const connection = new Connection(socket, this.#options.limits, this.#options.handle, (c, reason) => {
      this.#connections.delete(c);
      if (reason !== null) {
        this.#options.logger.info(
          { connection: c.id, remote: `${c.remoteAddress}:${c.remotePort}` },
          `Closed connection: ${reason}`,
        );
      }
    });
    this.#connections.add(connection);
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        const address = this.#server.address();
        if (address === null || typeof address === 'string') {
          reject(new Error('Cannot read the listening address'));
          return;
        }
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /** Stops accepting connections. Live connections stay until closeConnections(). */
  stopAccepting(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  closeConnections(): void {
    for (const c of this.#connections) c.close(null);
  }
}
