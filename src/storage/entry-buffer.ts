/**
 * A growable array of fixed-size binary entries kept in the exact byte layout of an index
 * file, so loading is one read and saving is one write with no conversion. Entries are
 * only ever appended at the end or cut off the end.
 */
export class EntryBuffer {
  readonly entrySize: number;
  protected buf: Buffer;
  #entries: number;

  /** Adopts `bytes` as the initial entries (its length must be a multiple of entrySize). */
  constructor(entrySize: number, bytes?: Buffer) {
    this.entrySize = entrySize;
    if (bytes && bytes.length % entrySize !== 0) throw new RangeError('Index bytes are not a whole number of entries');
    this.buf = bytes ?? Buffer.alloc(entrySize * 64);
    this.#entries = bytes ? bytes.length / entrySize : 0;
  }

  get entries(): number {
    return this.#entries;
  }

  get sizeInBytes(): number {
    return this.#entries * this.entrySize;
  }

  /** The used part of the buffer, in file layout. Valid until the next append. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.sizeInBytes);
  }

  /** Position in `buf` where the next entry goes, after making room for it. */
  protected slotForAppend(): number {
    const at = this.sizeInBytes;
    if (at + this.entrySize > this.buf.length) {
      const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.entrySize * 64));
      this.buf.copy(grown, 0, 0, at);
      this.buf = grown;
    }
    this.#entries++;
    return at;
  }

  truncateToEntries(count: number): void {
    if (count < this.#entries) this.#entries = Math.max(0, count);
  }
}
