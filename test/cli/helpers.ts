import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

export interface CliOptions {
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** The environment a CLI child gets: no TRIBUTARY_BROKERS from the caller's shell unless given. */
function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TRIBUTARY_BROKERS: undefined, ...extra };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** Spawns `tributary <args>` from the sources, as a user would run it. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    env: childEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs `tributary <args>` to completion (killed after timeoutMs) and collects its output. */
export async function cli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  child.stdin!.on('error', () => {});
  child.stdin!.end(options.input ?? '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  const stdoutBytes = Buffer.concat(out);
  if (signal === 'SIGKILL') {
    assert.fail(`tributary ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${stderr}`);
  }
  return { code, signal, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr };
}

/** Runs the CLI and expects exit code 0, returning stdout. */
export async function ok(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const result = await cli(args, options);
  assert.equal(result.code, 0, `tributary ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result;
}

/** Runs the CLI with --json and parses stdout. */
// biome-ignore lint/suspicious/noExplicitAny: the tests check the JSON field by field
export async function json<T = any>(args: readonly string[], options: CliOptions = {}): Promise<T> {
  const { stdout } = await ok([...args, '--json'], options);
  return JSON.parse(stdout) as T;
}

/** Runs the CLI expecting a failure: the exit code, and exactly one line on stderr. */
export async function fails(args: readonly string[], code: 1 | 2, options: CliOptions = {}): Promise<string> {
  const result = await cli(args, options);
  assert.equal(result.code, code, `tributary ${args.join(' ')} exited ${result.code}, not ${code}: ${result.stderr}`);
  const lines = result.stderr.split('\n').filter((l) => l.length > 0);
  assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
  assert.equal(result.stdout, '', 'nothing on stdout');
  return lines[0]!;
}

/** Lines of output, without the empty one after the last newline. */
export function lines(text: string): string[] {
  const all = text.split('\n');
  if (all.at(-1) === '') all.pop();
  return all;
}

/** Rows of a table the CLI printed: cells split on runs of two or more spaces, headings first. */
export function rows(text: string): string[][] {
  return lines(text).map((l) => l.trim().split(/\s{2,}/));
}

/** Waits until `check` holds, polling; fails with `what` after timeoutMs. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) assert.fail(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ---------------------------------------------------------------------------- kcat

export const KCAT_INSTALLED = (() => {
  const probe = spawnSync('kcat', ['-V'], { stdio: 'ignore', timeout: 5_000 });
  return probe.error === undefined && probe.status === 0;
})();
const ON_CI = process.env.CI === 'true';

/** A kcat test: skipped loudly without kcat, except under CI=true, where a missing kcat fails. */
export function kcatTest(name: string, options: { timeout: number }, fn: () => Promise<void>): void {
  if (KCAT_INSTALLED) {
    test(name, options, fn);
  } else if (ON_CI) {
    test(name, () =>
      assert.fail('kcat is not installed, and CI=true does not allow skipping: install it (.ci/run does)'),
    );
  } else {
    console.warn(`\n*** kcat is not installed: SKIPPING "${name}". Install Debian kcat (apt-get install kcat). ***\n`);
    test(name, { skip: 'kcat is not installed' }, fn);
  }
}

/** Runs kcat with input on stdin; resolves with its exit code and output. */
export async function kcat(
  args: readonly string[],
  input = '',
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  child.stdin.on('error', () => {});
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  if (signal === 'SIGKILL') assert.fail(`kcat ${args.join(' ')} did not finish within ${timeoutMs} ms: ${stderr}`);
  return { code, stdout, stderr };
}
