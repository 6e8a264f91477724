import { Admin } from '../client/admin.ts';
import type { ClientOptions } from '../client/options.ts';
import { parseBootstrap } from '../client/options.ts';
import { type GlobalValues, integer, UsageError } from './args.ts';
import { errorCode, failure, toJson } from './output.ts';

export const DEFAULT_BROKERS = '127.0.0.1:9092';
/** How long one command may wait on the cluster (connecting and retrying included). */
export const DEFAULT_TIMEOUT_MS = 15_000;

export const GLOBAL_HELP = `Global options:
  -b, --brokers <host:port,…>  brokers to bootstrap from (env TRIBUTARY_BROKERS; default ${DEFAULT_BROKERS})
      --json                   machine-readable output on stdout (errors as JSON on stderr)
      --timeout <ms>           how long to wait on the cluster (default ${DEFAULT_TIMEOUT_MS})
  -h, --help                   this help
`;

/** What every command needs: where the cluster is, how to print, streams (replaceable in tests). */
export class Context {
  readonly brokers: string;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream | NodeJS.WritableStream;

  constructor(values: GlobalValues, command: string, env: NodeJS.ProcessEnv = process.env) {
    this.brokers = values.brokers ?? (env.TRIBUTARY_BROKERS?.trim() || DEFAULT_BROKERS);
    try {
      parseBootstrap(this.brokers);
    } catch (err) {
      throw new UsageError(`Invalid --brokers "${this.brokers}": ${(err as Error).message}`, command);
    }
    this.json = values.json ?? false;
    this.timeoutMs =
      values.timeout === undefined ? DEFAULT_TIMEOUT_MS : integer(values.timeout, '--timeout', command, 1, 3_600_000);
    this.stdout = process.stdout;
    this.stderr = process.stderr;
  }

  clientOptions(): ClientOptions {
    return {
      bootstrap: this.brokers,
      clientId: 'tributary-cli',
      connectTimeoutMs: Math.min(this.timeoutMs, 10_000),
      requestTimeoutMs: Math.min(this.timeoutMs, 30_000),
      defaultApiTimeoutMs: this.timeoutMs,
      // The CLI reports failures itself, in one line; the client's warnings would add noise.
      logger: { warn: () => {} },
    };
  }

  /** An Admin for the duration of `fn`, closed afterwards whatever happens. */
  async withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = new Admin(this.clientOptions());
    try {
      return await fn(admin);
    } finally {
      await admin.close().catch(() => {});
    }
  }

  out(text: string): void {
    this.stdout.write(text);
  }

  printJson(value: unknown): void {
    this.stdout.write(`${toJson(value)}\n`);
  }

  /** Notes for people (progress, summaries): on stderr, so stdout stays clean for pipes. */
  note(text: string): void {
    this.stderr.write(text);
  }
}

/** A failure the CLI reports in one line and exits 1 on. */
export class CommandError extends Error {
  override name = 'CommandError';
  readonly code: string | null;
  constructor(message: string, code: string | null = null) {
    super(message);
    this.code = code;
  }
}

/** Runs an operation, turning any failure into a CommandError that names the operation. */
export async function attempt<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CommandError || err instanceof UsageError) throw err;
    throw new CommandError(failure(operation, err), errorCode(err));
  }
}

/** Prints an error the way the CLI does (a line, or a JSON object with --json) and returns the exit code. */
export function report(err: unknown, json: boolean, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof UsageError) {
    const hint = err.command ? ` (see "tributary ${err.command} --help")` : '';
    stderr.write(json ? `${toJson({ error: err.message, code: 'USAGE' }, false)}\n` : `${err.message}${hint}\n`);
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof CommandError ? err.code : null;
  if (!(err instanceof CommandError) && process.env.TRIBUTARY_DEBUG && err instanceof Error) {
    stderr.write(`${err.stack}\n`);
  }
  stderr.write(json ? `${toJson({ error: message, code }, false)}\n` : `${message}\n`);
  return 1;
}
