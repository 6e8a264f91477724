/** A consumer running in a child process (one of the fixtures), and what it reported over IPC. */
import { type ChildProcess, fork } from 'node:child_process';

export interface Processed {
  member: string;
  partition: number;
  offset: string;
  value: string | null;
}

type Report = { type: string; assignment?: number[]; partition?: number; offset?: string; value?: string | null };

export class MemberProcess {
  readonly name: string;
  readonly child: ChildProcess;
  assignment: number[] = [];
  readonly ready: Promise<void>;
  exited = false;

  constructor(
    fixture: 'kafkajs-member' | 'platformatic-member',
    name: string,
    env: Record<string, string>,
    processed: Processed[],
  ) {
    this.name = name;
    this.child = fork(new URL(`./fixtures/${fixture}.ts`, import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...env, NAME: name },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.child.on('exit', () => {
      this.exited = true;
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.once('exit', (code, signal) => reject(new Error(`${fixture} "${name}" exited (${code ?? signal})`)));
      this.child.on('message', (m: Report) => {
        if (m.type === 'ready') resolve();
        if (m.type === 'join') this.assignment = [...(m.assignment ?? [])].sort((a, b) => a - b);
        if (m.type === 'record') {
          processed.push({ member: name, partition: m.partition!, offset: m.offset!, value: m.value ?? null });
        }
      });
    });
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  /** Asks the consumer to close cleanly (it leaves the group) and waits for the process to end. */
  leave(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.send('leave');
    });
  }
}
