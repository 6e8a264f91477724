/** A cancellable timer handle. */
export interface Timer {
  cancel(): void;
}

/**
 * The coordinator's timers: every one unref'd (a pending session expiry never keeps the
 * process alive) and tracked, so that close() clears them all. A timer's task runs in the
 * serial queue of its group, through the `run` callback given at construction.
 */
export class Timers {
  readonly #active = new Set<NodeJS.Timeout>();
  readonly #run: (groupId: string, task: () => unknown) => void;
  #closed = false;

  constructor(run: (groupId: string, task: () => unknown) => void) {
    this.#run = run;
  }

  schedule(groupId: string, delayMs: number, task: () => unknown): Timer {
    if (this.#closed) return { cancel() {} };
    const handle = setTimeout(
      () => {
        this.#active.delete(handle);
        if (!this.#closed) this.#run(groupId, task);
      },
      Math.max(0, Math.min(delayMs, 0x7fffffff)),
    );
    handle.unref();
    this.#active.add(handle);
    return {
      cancel: () => {
        clearTimeout(handle);
        this.#active.delete(handle);
      },
    };
  }

  get size(): number {
    return this.#active.size;
  }

  close(): void {
    this.#closed = true;
    for (const handle of this.#active) clearTimeout(handle);
    this.#active.clear();
  }
}
