import * as fs from 'node:fs';
import { dirname } from 'node:path';

/**
 * The one file-system interface of the storage layer. Every byte the storage layer reads
 * or writes goes through it, so tests can swap in FaultyFs and make an fsync fail, a disk
 * fill up or a write tear half-way.
 *
 * It is deliberately small and positional: files are written with explicit positions
 * (never O_APPEND) so that the log always knows where its bytes are and can truncate back
 * to a known position after a failed write.
 */
export interface StorageFs {
  /**
   * `read`: read-only, the file must exist. `readWrite`: read and write, the file must
   * exist. `create`: read and write, created if missing and truncated to zero if present.
   */
  open(path: string, mode: OpenMode): Promise<StorageFile>;
  /** The whole file, or null when it does not exist. */
  readFile(path: string): Promise<Buffer | null>;
  mkdir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  /** Null when nothing exists at `path`. */
  stat(path: string): Promise<FileStat | null>;
  rename(from: string, to: string): Promise<void>;
  /** Succeeds when the file is already gone. */
  unlink(path: string): Promise<void>;
  /** Removes a directory tree; succeeds when it is already gone. */
  removeTree(path: string): Promise<void>;
  /** fsync of a directory: makes creations, renames and unlinks inside it durable. */
  syncDir(path: string): Promise<void>;
}

export type OpenMode = 'read' | 'readWrite' | 'create';

export interface FileStat {
  size: number;
  mtimeMs: number;
  isDirectory: boolean;
}

export interface StorageFile {
  readonly path: string;
  /** Reads up to `length` bytes at `position` into `buffer[offset…]`; returns how many were read (0 at end of file). */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /**
   * Writes the buffers back to back at `position` with one vectored write. Returns the
   * number of bytes written, which can be less than asked for when the disk fills up
   * part-way: callers must compare.
   */
  writev(buffers: readonly Buffer[], position: number): Promise<number>;
  /**
   * writev on the calling thread: the same result and errors, without a threadpool round
   * trip. For the append path, where copying a group into the page cache takes tens of µs
   * and the round trip costs more than that; a stalled disk stalls the event loop meanwhile.
   */
  writevSync(buffers: readonly Buffer[], position: number): number;
  /** fdatasync: the file's data (and the size, which is metadata needed to read it) is on disk. */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

const OPEN_FLAGS: Record<OpenMode, number> = {
  read: fs.constants.O_RDONLY,
  readWrite: fs.constants.O_RDWR,
  create: fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC,
};

// The callback API is used instead of fs/promises: a FileHandle per segment costs an
// object with its own close tracking and GC finalizer, and the hot path (a synchronous
// writev and at most one fdatasync per group commit) should be plain libuv requests and
// nothing else.

class NodeFile implements StorageFile {
  readonly path: string;
  readonly #fd: number;

  constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.read(this.#fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }

  writev(buffers: readonly Buffer[], position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.writev(this.#fd, buffers as Buffer[], position, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }

  writevSync(buffers: readonly Buffer[], position: number): number {
    return fs.writevSync(this.#fd, buffers as Buffer[], position);
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.#fd, (err) => (err ? reject(err) : resolve()));
    });
  }

  truncate(length: number): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.ftruncate(this.#fd, length, (err) => (err ? reject(err) : resolve()));
    });
  }

  size(): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.fstat(this.#fd, (err, st) => (err ? reject(err) : resolve(st.size)));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.close(this.#fd, (err) => (err ? reject(err) : resolve()));
    });
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** The real file system. */
export const nodeFs: StorageFs = {
  open(path, mode) {
    return new Promise((resolve, reject) => {
      fs.open(path, OPEN_FLAGS[mode], 0o644, (err, fd) => (err ? reject(err) : resolve(new NodeFile(path, fd))));
    });
  },

  readFile(path) {
    return new Promise((resolve, reject) => {
      fs.readFile(path, (err, data) => (err ? (isNotFound(err) ? resolve(null) : reject(err)) : resolve(data)));
    });
  },

  async mkdir(path) {
    await fs.promises.mkdir(path, { recursive: true });
  },

  readdir(path) {
    return fs.promises.readdir(path);
  },

  async stat(path) {
    try {
      const st = await fs.promises.stat(path);
      return { size: st.size, mtimeMs: st.mtimeMs, isDirectory: st.isDirectory() };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  },

  rename(from, to) {
    return fs.promises.rename(from, to);
  },

  async unlink(path) {
    try {
      await fs.promises.unlink(path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  },

  removeTree(path) {
    return fs.promises.rm(path, { recursive: true, force: true });
  },

  async syncDir(path) {
    const fd = await new Promise<number>((resolve, reject) => {
      fs.open(path, fs.constants.O_RDONLY, (err, fd) => (err ? reject(err) : resolve(fd)));
    });
    try {
      await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
    } finally {
      await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    }
  },
};

/** Reads exactly `length` bytes at `position`, or fewer only when the file ends first. */
export async function readFully(file: StorageFile, position: number, length: number): Promise<Buffer> {
  return readFullyInto(file, Buffer.allocUnsafe(length), position, length);
}

/** readFully into `buf` (at least `length` bytes); returns the view of what was read. */
export async function readFullyInto(file: StorageFile, buf: Buffer, position: number, length: number): Promise<Buffer> {
  let done = 0;
  while (done < length) {
    const n = await file.read(buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === buf.length ? buf : buf.subarray(0, done);
}

/**
 * Writes `data` to `path` so that a crash leaves either the old or the new content, never
 * a mix: write a temp file, fdatasync it, rename it over the target, fsync the directory.
 */
export async function writeFileAtomic(fsys: StorageFs, path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  const file = await fsys.open(tmp, 'create');
  try {
    const n = await file.writev([data], 0);
    if (n !== data.length) throw shortWrite(tmp, n, data.length);
    await file.datasync();
  } finally {
    await file.close();
  }
  await fsys.rename(tmp, path);
  await fsys.syncDir(dirname(path));
}

/** The error for a write that stopped early without the kernel naming a reason. */
export function shortWrite(path: string, written: number, expected: number): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`Short write to "${path}": ${written} of ${expected} bytes`);
  err.code = 'ESHORTWRITE';
  err.path = path;
  return err;
}
