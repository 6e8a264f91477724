import { pino } from 'pino';

export type Logger = pino.Logger;

export interface LoggerOptions {
  level?: string;
  /** Where lines go; standard error by default, so that standard output stays for data. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    { level: options.level ?? 'info', base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    (options.destination ?? pino.destination({ fd: 2, sync: false })) as pino.DestinationStream,
  );
}

/** A logger that drops everything, for embedded brokers that should stay quiet. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Logs at most one line per key per interval, counting what it held back, so that a peer
 * sending garbage in a loop cannot flood the log.
 */
export class RateLimitedLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  readonly #intervalMs: number;
  readonly #logger: Logger;

  constructor(logger: Logger, intervalMs = 10_000) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const entry = this.#last.get(key);
    if (entry && now - entry.at < this.#intervalMs) {
      entry.suppressed++;
      return;
    }
    if (this.#last.size > 10_000) this.#last.clear();
    this.#last.set(key, { at: now, suppressed: 0 });
    const suppressed = entry?.suppressed ?? 0;
    this.#logger.warn(suppressed > 0 ? { ...fields, suppressed } : fields, message);
  }
}
