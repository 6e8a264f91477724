/** Where log lines of the client go; warnings default to process.emitWarning. */
export interface ClientLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface ClientOptions {
  /** Bootstrap brokers: `host:port,host:port` or a list of `host:port`. */
  bootstrap: string | readonly string[];
  clientId?: string;
  /** TCP connect plus version negotiation; default 10 s. */
  connectTimeoutMs?: number;
  /** Time a request waits for its response; default 30 s. */
  requestTimeoutMs?: number;
  /** First wait before reconnecting to a broker that failed; default 50 ms. */
  reconnectBackoffMs?: number;
  /** Longest wait before reconnecting; default 1 s. */
  reconnectBackoffMaxMs?: number;
  /** First wait before retrying a request that failed with a retriable error; default 100 ms. */
  retryBackoffMs?: number;
  /** Longest wait between retries; default 1 s. */
  retryBackoffMaxMs?: number;
  /** How long an operation (with its retries) may take before it fails; default 60 s. */
  defaultApiTimeoutMs?: number;
  /** Metadata older than this is refreshed even when nothing failed; default 5 min. */
  metadataMaxAgeMs?: number;
  logger?: Partial<ClientLogger>;
}

const noop = () => {};

export function makeLogger(partial: Partial<ClientLogger> | undefined): ClientLogger {
  return {
    debug: partial?.debug ?? noop,
    info: partial?.info ?? noop,
    warn:
      partial?.warn ??
      ((message: string) => {
        process.emitWarning(message, { code: 'TRIBUTARY_CLIENT' });
      }),
    error: partial?.error ?? noop,
  };
}

export interface BrokerAddress {
  host: string;
  port: number;
}

/** Parses `host:port,host:port` (IPv6 as `[::1]:9092`); the port defaults to 9092. */
export function parseBootstrap(bootstrap: string | readonly string[]): BrokerAddress[] {
  const items = (typeof bootstrap === 'string' ? bootstrap.split(',') : bootstrap)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new Error('No bootstrap brokers given');
  return items.map((item) => {
    const address = item.replace(/^[a-z]+:\/\//i, '');
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
    if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : 9092 };
    const colon = address.lastIndexOf(':');
    if (colon < 0) return { host: address, port: 9092 };
    const port = Number(address.slice(colon + 1));
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`Invalid broker address "${item}"`);
    return { host: address.slice(0, colon), port };
  });
}
