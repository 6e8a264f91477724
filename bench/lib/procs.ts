// Child processes the bench starts (our broker, the ceiling receivers, peer servers): each
// one on loopback in its own temp dir, killed and cleaned up by the bench whatever happens.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname;

const tempDirs = new Set<string>();
const children = new Set<ChildProcess>();

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tributary-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Kills every child still running and removes every temp dir (also on SIGINT/exceptions). */
export function cleanupAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

process.once('exit', cleanupAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanupAll();
    process.exit(130);
  });
}

/** VmRSS of a process in bytes, or NaN once it is gone. */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system) of a process in seconds, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns the peak. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    const rss = rssOf(pid);
    if (rss > peak || Number.isNaN(peak)) peak = rss;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const rss = rssOf(pid);
      return Number.isNaN(rss) ? peak : Math.max(rss, peak);
    },
  };
}

export function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface Child {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns a process and resolves once `ready` matches its output (stdout and stderr
 * together), with the match; rejects (and kills it) after `timeoutMs` or if it exits first.
 */
export async function startProcess(
  command: string,
  args: string[],
  ready: RegExp,
  options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ proc: Child; match: RegExpExecArray }> {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  children.add(child);
  let output = '';
  const proc: Child = {
    child,
    pid: child.pid!,
    output: () => output,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        children.delete(child);
        return;
      }
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      children.delete(child);
    },
  };
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} did not start within ${options.timeoutMs ?? 30_000} ms:\n${output}`));
    }, options.timeoutMs ?? 30_000);
    const onData = (d: Buffer) => {
      // Keep only the tail of a chatty process's output.
      output = (output + d.toString()).slice(-20_000);
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code} before it was ready:\n${output}`));
    });
  });
  return { proc, match };
}

export interface BrokerChild extends Child {
  port: number;
  dataDir: string;
}

/**
 * `node bin/tributary.js start` (the built CLI) on a free port in a temp dir. `nodeArgs`
 * go to node itself (e.g. --cpu-prof).
 */
export async function startBroker(nodeArgs: string[] = [], dataDir = tempDir('broker')): Promise<BrokerChild> {
  const { proc, match } = await startProcess(
    process.execPath,
    [...nodeArgs, join(ROOT, 'bin/tributary.js'), 'start', '--port', '0', '--data-dir', dataDir, '--log-level', 'info'],
    /"address":"[^"]*:(\d+)"/,
  );
  return { ...proc, port: Number(match[1]), dataDir };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
