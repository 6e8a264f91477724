import { type StorageFs, writeFileAtomic } from './fs.ts';
import { segmentFilePath, TXN_INDEX_FILE_SUFFIX } from './names.ts';

/**
 * One aborted transaction of a partition, as read_committed fetches report it: the
 * producer, the offset of its first batch here and the offset of its ABORT marker.
 */
export interface AbortedTxn {
  producerId: bigint;
  firstOffset: bigint;
  lastOffset: bigint;
  /** The last stable offset right after the marker (Kafka keeps it for the same purpose). */
  lastStableOffset: bigint;
}

/** Kafka's AbortedTxn entry: version int16 (0), producerId, firstOffset, lastOffset, lastStableOffset. */
export const ABORTED_TXN_ENTRY_SIZE = 34;
const ENTRY_VERSION = 0;

/**
 * The aborted-transaction index of one log (Kafka's TransactionIndex), in memory with a
 * `<base>.txnindex` file per segment in Kafka's entry format. An entry belongs to the file
 * of the segment its ABORT marker was written to.
 *
 * The files are written whole (atomically) when a segment is sealed and when the log
 * closes; the active segment's entries are otherwise in memory only, because recovery
 * rebuilds them by replaying the log from the last producer-state snapshot, which is
 * never older than the active segment. A file whose segment was merged away by the
 * cleaner keeps describing valid offsets (compaction keeps offsets), so every file in the
 * directory is loaded, whether or not a segment still starts at its base offset.
 *
 * Assumes: the owning Log calls the mutating methods from its serial queue only.
 */
export class TxnIndex {
  readonly #fs: StorageFs;
  readonly #dir: string;
  /** File base offset → entries, in marker order. */
  readonly #files = new Map<bigint, AbortedTxn[]>();
  /** `producerId:lastOffset` of every entry, so that a replay adds nothing twice. */
  readonly #keys = new Set<string>();
  /** Every entry by marker offset, for the reads; null when it must be sorted again. */
  #sorted: AbortedTxn[] | null = [];

  constructor(fsys: StorageFs, dir: string) {
    this.#fs = fsys;
    this.#dir = dir;
  }

  /** Reads the `.txnindex` files of the directory (their base offsets). A damaged tail is ignored. */
  async load(bases: readonly bigint[]): Promise<void> {
    for (const base of bases) {
      const bytes = await this.#fs.readFile(segmentFilePath(this.#dir, base, TXN_INDEX_FILE_SUFFIX));
      if (bytes === null) continue;
      const entries: AbortedTxn[] = [];
      for (let pos = 0; pos + ABORTED_TXN_ENTRY_SIZE <= bytes.length; pos += ABORTED_TXN_ENTRY_SIZE) {
        if (bytes.readInt16BE(pos) !== ENTRY_VERSION) break;
        entries.push({
          producerId: bytes.readBigInt64BE(pos + 2),
          firstOffset: bytes.readBigInt64BE(pos + 10),
          lastOffset: bytes.readBigInt64BE(pos + 18),
          lastStableOffset: bytes.readBigInt64BE(pos + 26),
        });
      }
      if (entries.length === 0) continue;
      this.#files.set(base, entries);
      this.#sorted = null;
      for (const e of entries) this.#keys.add(keyOf(e));
    }
  }

  /** Records an aborted transaction whose marker went to the segment at `segmentBase`; a repeat (replay) is ignored. */
  add(segmentBase: bigint, entry: AbortedTxn): void {
    const key = keyOf(entry);
    if (this.#keys.has(key)) return;
    this.#keys.add(key);
    let entries = this.#files.get(segmentBase);
    if (entries === undefined) {
      entries = [];
      this.#files.set(segmentBase, entries);
    }
    entries.push(entry);
    // Appends come in marker order; a replay of older segments may not.
    const sorted = this.#sorted;
    if (sorted !== null && (sorted.length === 0 || sorted[sorted.length - 1]!.lastOffset < entry.lastOffset)) {
      sorted.push(entry);
    } else {
      this.#sorted = null;
    }
  }

  /**
   * Aborted transactions that overlap [fetchOffset, upperBound): the ones a read_committed
   * consumer reading that range must know about, ordered by first offset (Kafka's
   * collectAbortedTransactions).
   */
  collect(fetchOffset: bigint, upperBound: bigint): AbortedTxn[] {
    const sorted = this.#sortedEntries();
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]!.lastOffset < fetchOffset) lo = mid + 1;
      else hi = mid;
    }
    const out: AbortedTxn[] = [];
    for (let i = lo; i < sorted.length; i++) {
      const e = sorted[i]!;
      if (e.firstOffset < upperBound) out.push(e);
      // Kafka's stop rule: a transaction aborted later began at or after this entry's last
      // stable offset (it was open then, or started after), so past the bound too.
      if (e.lastStableOffset >= upperBound) break;
    }
    return out.sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  }

  #sortedEntries(): AbortedTxn[] {
    if (this.#sorted === null) {
      this.#sorted = [...this.#files.values()].flat();
      this.#sorted.sort((a, b) => (a.lastOffset < b.lastOffset ? -1 : a.lastOffset > b.lastOffset ? 1 : 0));
    }
    return this.#sorted;
  }

  /** Every entry (tests and tools). */
  all(): AbortedTxn[] {
    return this.collect(-1n, 2n ** 63n - 1n);
  }

  /** Writes the file of the segment at `segmentBase` when it has entries (called when it is sealed or the log closes). */
  async writeFile(segmentBase: bigint): Promise<void> {
    const entries = this.#files.get(segmentBase);
    if (entries === undefined || entries.length === 0) return;
    await writeFileAtomic(this.#fs, this.#path(segmentBase), encode(entries));
  }

  /** Forgets entries whose marker is at or after `endOffset` (the log was cut back), rewriting the files they were in. */
  async truncateTo(endOffset: bigint): Promise<void> {
    await this.#forget((e) => e.lastOffset >= endOffset);
  }

  /**
   * Forgets the aborted transactions whose ABORT marker (producer, marker offset) the log
   * cleaner is removing, rewriting the files they were in. The cleaner removes a marker only
   * once no batch of its transaction is left; an entry outliving its marker would make
   * read_committed consumers skip that producer's later transactions.
   */
  async remove(markers: ReadonlyArray<{ producerId: bigint; lastOffset: bigint }>): Promise<void> {
    const keys = new Set(markers.map((m) => `${m.producerId}:${m.lastOffset}`));
    await this.#forget((e) => keys.has(keyOf(e)));
  }

  /** Drops the entries `gone` picks, rewriting (or removing) each file that held one. */
  async #forget(gone: (entry: AbortedTxn) => boolean): Promise<void> {
    for (const [base, entries] of [...this.#files]) {
      const kept = entries.filter((e) => !gone(e));
      if (kept.length === entries.length) continue;
      for (const e of entries) if (gone(e)) this.#keys.delete(keyOf(e));
      this.#sorted = null;
      if (kept.length === 0) {
        this.#files.delete(base);
        await this.#fs.unlink(this.#path(base));
      } else {
        this.#files.set(base, kept);
        await writeFileAtomic(this.#fs, this.#path(base), encode(kept));
      }
    }
  }

  /** Drops entries whose marker is below `logStartOffset`, and files left without any (retention). */
  async deleteBelow(logStartOffset: bigint): Promise<void> {
    for (const [base, entries] of [...this.#files]) {
      if (entries.every((e) => e.lastOffset < logStartOffset)) {
        for (const e of entries) this.#keys.delete(keyOf(e));
        this.#files.delete(base);
        this.#sorted = null;
        await this.#fs.unlink(this.#path(base));
      }
    }
  }

  /** Forgets everything and removes the files (the log was emptied). */
  async clear(): Promise<void> {
    const bases = [...this.#files.keys()];
    this.#files.clear();
    this.#keys.clear();
    this.#sorted = [];
    for (const base of bases) await this.#fs.unlink(this.#path(base));
  }

  #path(base: bigint): string {
    return segmentFilePath(this.#dir, base, TXN_INDEX_FILE_SUFFIX);
  }
}

function keyOf(e: AbortedTxn): string {
  return `${e.producerId}:${e.lastOffset}`;
}

function encode(entries: readonly AbortedTxn[]): Buffer {
  const buf = Buffer.alloc(entries.length * ABORTED_TXN_ENTRY_SIZE);
  entries.forEach((e, i) => {
    const pos = i * ABORTED_TXN_ENTRY_SIZE;
    buf.writeInt16BE(ENTRY_VERSION, pos);
    buf.writeBigInt64BE(e.producerId, pos + 2);
    buf.writeBigInt64BE(e.firstOffset, pos + 10);
    buf.writeBigInt64BE(e.lastOffset, pos + 18);
    buf.writeBigInt64BE(e.lastStableOffset, pos + 26);
  });
  return buf;
}
