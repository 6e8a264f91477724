import type { FileStat, OpenMode, StorageFile, StorageFs } from './fs.ts';

/** The operations of the fs seam a fault can be attached to. */
export type FsOperation =
  | 'open'
  | 'read'
  | 'write'
  | 'datasync'
  | 'truncate'
  | 'close'
  | 'readFile'
  | 'mkdir'
  | 'readdir'
  | 'stat'
  | 'rename'
  | 'unlink'
  | 'removeTree'
  | 'syncDir';

export interface Fault {
  op: FsOperation;
  /** Only paths that end with this string or match this pattern; every path when absent. */
  path?: string | RegExp;
  /** errno name of the error to throw, e.g. `EIO` or `ENOSPC`. Without it the fault only delays. */
  errno?: string;
  /** Hold the call this long first (to force an interleaving); with no errno the call then proceeds. */
  delayMs?: number;
  /** How many calls fail before the fault disarms itself (default 1; Infinity for a broken disk). */
  times?: number;
  /**
   * For `write` only: let this many bytes of the write reach the file first (a torn
   * write). With `short: true` the call then reports the short count instead of throwing,
   * which is how the kernel reports a disk that fills up part-way.
   */
  tornAfterBytes?: number;
  short?: boolean;
}

/**
 * A StorageFs that forwards to another one (normally nodeFs) and injects faults on
 * request. It also counts calls per operation, which lets a test see group commit at work
 * (many appends, few fdatasyncs).
 *
 * `write` stands for both writev and writevSync: a fault, a crash point or a count applies
 * to either, so a test need not know which one the code under test uses. A delay on
 * writevSync blocks the thread, as a stalled disk would.
 */
export class FaultyFs implements StorageFs {
  readonly inner: StorageFs;
  readonly calls: Record<FsOperation, number> = {
    open: 0,
    read: 0,
    write: 0,
    datasync: 0,
    truncate: 0,
    close: 0,
    readFile: 0,
    mkdir: 0,
    readdir: 0,
    stat: 0,
    rename: 0,
    unlink: 0,
    removeTree: 0,
    syncDir: 0,
  };
  /** How many of the `write` calls were the asynchronous writev (a threadpool round trip each). */
  asyncWrites = 0;
  #faults: Array<Fault & { remaining: number }> = [];
  /** Calls of changing operations left before the simulated crash (see crashAfter); null when not armed. */
  #crashIn: number | null = null;
  #crashed = false;

  constructor(inner: StorageFs) {
    this.inner = inner;
  }

  /** Arms a fault; returns a function that disarms it. */
  inject(fault: Fault): () => void {
    const armed = { ...fault, remaining: fault.times ?? 1 };
    this.#faults.push(armed);
    return () => {
      this.#faults = this.#faults.filter((f) => f !== armed);
    };
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /**
   * Simulates a crash: after `calls` more calls of operations that change the disk (open,
   * write, datasync, truncate, rename, unlink, removeTree, mkdir, syncDir), every call of
   * every operation fails with EIO, so the disk keeps exactly what those calls did. A test
   * then reopens the directory with another StorageFs, as a restarted process would.
   */
  crashAfter(calls: number): void {
    this.#crashIn = calls;
    this.#crashed = false;
  }

  get crashed(): boolean {
    return this.#crashed;
  }

  resetCounts(): void {
    for (const key of Object.keys(this.calls) as FsOperation[]) this.calls[key] = 0;
    this.asyncWrites = 0;
  }

  /** Counts the call and returns the fault that fires for it, if any. */
  take(op: FsOperation, path: string): Fault | undefined {
    this.calls[op]++;
    if (this.#crashIn !== null && !this.#crashed && CHANGING.has(op) && this.#crashIn-- <= 0) this.#crashed = true;
    // A crashed process's files are closed by the kernel: closing still works (and frees the descriptor).
    if (this.#crashed && op !== 'close') return { op, errno: 'EIO' };
    const i = this.#faults.findIndex((f) => f.op === op && f.remaining > 0 && matches(f.path, path));
    if (i < 0) return undefined;
    const fault = this.#faults[i]!;
    fault.remaining--;
    if (fault.remaining <= 0) this.#faults.splice(i, 1);
    return fault;
  }

  async #check(op: FsOperation, path: string): Promise<void> {
    await fire(this.take(op, path), op, path);
  }

  async open(path: string, mode: OpenMode): Promise<StorageFile> {
    await this.#check('open', path);
    return new FaultyFile(this, await this.inner.open(path, mode));
  }

  async readFile(path: string): Promise<Buffer | null> {
    await this.#check('readFile', path);
    return this.inner.readFile(path);
  }

  async mkdir(path: string): Promise<void> {
    await this.#check('mkdir', path);
    return this.inner.mkdir(path);
  }

  async readdir(path: string): Promise<string[]> {
    await this.#check('readdir', path);
    return this.inner.readdir(path);
  }

  async stat(path: string): Promise<FileStat | null> {
    await this.#check('stat', path);
    return this.inner.stat(path);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.#check('rename', from);
    return this.inner.rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    await this.#check('unlink', path);
    return this.inner.unlink(path);
  }

  async removeTree(path: string): Promise<void> {
    await this.#check('removeTree', path);
    return this.inner.removeTree(path);
  }

  async syncDir(path: string): Promise<void> {
    await this.#check('syncDir', path);
    return this.inner.syncDir(path);
  }
}

const CHANGING: ReadonlySet<FsOperation> = new Set<FsOperation>([
  'open',
  'write',
  'datasync',
  'truncate',
  'rename',
  'unlink',
  'removeTree',
  'mkdir',
  'syncDir',
]);

class FaultyFile implements StorageFile {
  readonly #owner: FaultyFs;
  readonly #inner: StorageFile;

  constructor(owner: FaultyFs, inner: StorageFile) {
    this.#owner = owner;
    this.#inner = inner;
  }

  get path(): string {
    return this.#inner.path;
  }

  #check(op: FsOperation): Promise<void> {
    return fire(this.#owner.take(op, this.path), op, this.path);
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    await this.#check('read');
    return this.#inner.read(buffer, offset, length, position);
  }

  async writev(buffers: readonly Buffer[], position: number): Promise<number> {
    this.#owner.asyncWrites++;
    const fault = this.#owner.take('write', this.path);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (!fault?.errno) return this.#inner.writev(buffers, position);
    const torn = fault.tornAfterBytes ?? 0;
    const written = torn > 0 ? await this.#inner.writev([prefix(buffers, torn)], position) : 0;
    if (fault.short) return written;
    throw errnoError(fault.errno, 'write', this.path);
  }

  writevSync(buffers: readonly Buffer[], position: number): number {
    const fault = this.#owner.take('write', this.path);
    if (fault?.delayMs) sleepSync(fault.delayMs);
    if (!fault?.errno) return this.#inner.writevSync(buffers, position);
    const torn = fault.tornAfterBytes ?? 0;
    const written = torn > 0 ? this.#inner.writevSync([prefix(buffers, torn)], position) : 0;
    if (fault.short) return written;
    throw errnoError(fault.errno, 'write', this.path);
  }

  async datasync(): Promise<void> {
    await this.#check('datasync');
    return this.#inner.datasync();
  }

  async truncate(length: number): Promise<void> {
    await this.#check('truncate');
    return this.#inner.truncate(length);
  }

  size(): Promise<number> {
    return this.#inner.size();
  }

  async close(): Promise<void> {
    await this.#check('close');
    return this.#inner.close();
  }
}

async function fire(fault: Fault | undefined, op: FsOperation, path: string): Promise<void> {
  if (fault === undefined) return;
  if (fault.delayMs) await sleep(fault.delayMs);
  if (fault.errno) throw errnoError(fault.errno, op, path);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function matches(pattern: string | RegExp | undefined, path: string): boolean {
  if (pattern === undefined) return true;
  return typeof pattern === 'string' ? path.endsWith(pattern) : pattern.test(path);
}

function prefix(buffers: readonly Buffer[], bytes: number): Buffer {
  return Buffer.concat(buffers as Buffer[]).subarray(0, bytes);
}

function errnoError(errno: string, op: FsOperation, path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${errno}: injected fault, ${op} "${path}"`);
  err.code = errno;
  err.syscall = op;
  err.path = path;
  return err;
}
