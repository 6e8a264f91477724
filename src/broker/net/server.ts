import { createServer, type Server, type Socket } from 'node:net';
import { type Logger, RateLimitedLog } from '../logger.ts';
import { Connection, type ConnectionLimits, type FrameHandler } from './connection.ts';

export interface SocketServerOptions {
  host: string;
  port: number;
  limits: ConnectionLimits;
  /** max.connections: connections beyond it are closed on accept. */
  maxConnections: number;
  /** max.connections.per.ip */
  maxConnectionsPerIp: number;
  handle: FrameHandler;
  logger: Logger;
}

/** Accepts TCP connections and owns the set of live ones. */
export class SocketServer {
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  readonly #perIp = new Map<string, number>();
  readonly #options: SocketServerOptions;
  readonly #refusals: RateLimitedLog;

  constructor(options: SocketServerOptions) {
    this.#options = options;
    this.#refusals = new RateLimitedLog(options.logger);
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
  }

  #accept(socket: Socket): void {
    const ip = socket.remoteAddress ?? 'unknown';
    const fromIp = this.#perIp.get(ip) ?? 0;
    const limit =
      this.#connections.size >= this.#options.maxConnections
        ? `max.connections (${this.#options.maxConnections})`
        : fromIp >= this.#options.maxConnectionsPerIp
          ? `max.connections.per.ip (${this.#options.maxConnectionsPerIp})`
          : null;
    if (limit !== null) {
      this.#refusals.warn(`limit:${ip}`, { remote: ip }, `Refused connection: ${limit} reached`);
      socket.destroy();
      return;
    }
    this.#perIp.set(ip, fromIp + 1);
    const connection = new Connection(socket, this.#options.limits, this.#options.handle, (c, reason) => {
      this.#connections.delete(c);
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, left);
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
