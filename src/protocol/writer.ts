import { EncodeError } from './errors.ts';

const INITIAL_SIZE = 256;

export interface WriterOptions {
  /**
   * Byte fields (`bytes`, `compactBytes` and their nullable forms) at least this long are
   * kept by reference instead of copied; `chunks()` then returns the output in parts.
   * The caller must not change a referenced array until the output has been used.
   */
  referenceBytesFrom?: number;
}

/** A growable big-endian byte writer. */
export class Writer {
  buffer: Buffer;
  /** Write position in `buffer`; equals `length` until a byte field has been referenced. */
  offset = 0;
  readonly #referenceFrom: number;
  /** Finished output before `buffer[#start]`: slices of earlier buffers and referenced fields. */
  readonly #parts: Buffer[] = [];
  #partsLength = 0;
  /** Where the bytes not yet in `#parts` begin in `buffer`. */
  #start = 0;

  constructor(size = INITIAL_SIZE, options?: WriterOptions) {
    this.buffer = Buffer.allocUnsafe(size);
    this.#referenceFrom = options?.referenceBytesFrom ?? Number.POSITIVE_INFINITY;
    if (!(this.#referenceFrom > 0)) throw new RangeError('referenceBytesFrom must be positive');
  }

  /**
   * Makes room for n more bytes. Slices already moved to `#parts` keep pointing into the
   * old buffer, so only the bytes after `#start` are carried over to the new one.
   */
  private ensure(n: number): void {
    if (this.offset + n <= this.buffer.length) return;
    const pending = this.offset - this.#start;
    const need = pending + n;
    let size = this.#start === 0 ? this.buffer.length * 2 : this.buffer.length;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buffer.copy(next, 0, this.#start, this.offset);
    this.buffer = next;
    this.offset = pending;
    this.#start = 0;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#partsLength + this.offset - this.#start;
  }

  /**
   * The bytes written so far in one buffer: sharing memory with the writer when nothing was
   * referenced, else a fresh concatenation of `chunks()`.
   */
  toBuffer(): Buffer {
    if (this.#parts.length === 0) return this.buffer.subarray(0, this.offset);
    return Buffer.concat(this.chunks(), this.length);
  }

  /**
   * The bytes written so far as consecutive chunks (at least one), sharing memory with the
   * writer and with referenced fields: writing into a chunk changes the output.
   */
  chunks(): Buffer[] {
    if (this.#parts.length === 0) return [this.buffer.subarray(0, this.offset)];
    const out = this.#parts.slice();
    if (this.offset > this.#start) out.push(this.buffer.subarray(this.#start, this.offset));
    return out;
  }

  int8(v: number): this {
    this.ensure(1);
    this.offset = this.buffer.writeInt8(v, this.offset);
    return this;
  }

  uint8(v: number): this {
    this.ensure(1);
    this.offset = this.buffer.writeUInt8(v, this.offset);
    return this;
  }

  bool(v: boolean): this {
    return this.uint8(v ? 1 : 0);
  }

  int16(v: number): this {
    this.ensure(2);
    this.offset = this.buffer.writeInt16BE(v, this.offset);
    return this;
  }

  uint16(v: number): this {
    this.ensure(2);
    this.offset = this.buffer.writeUInt16BE(v, this.offset);
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.offset = this.buffer.writeInt32BE(v, this.offset);
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.offset = this.buffer.writeUInt32BE(v, this.offset);
    return this;
  }

  int64(v: bigint): this {
    this.ensure(8);
    this.offset = this.buffer.writeBigInt64BE(v, this.offset);
    return this;
  }

  float64(v: number): this {
    this.ensure(8);
    this.offset = this.buffer.writeDoubleBE(v, this.offset);
    return this;
  }

  uuid(v: string): this {
    const bytes = Buffer.from(v, 'base64url');
    if (bytes.length !== 16) throw new EncodeError(`Invalid UUID "${v}"`);
    return this.raw(bytes);
  }

  uvarint(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new EncodeError(`Invalid unsigned varint ${v}`);
    this.ensure(5);
    while (v >= 0x80) {
      this.buffer[this.offset++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buffer[this.offset++] = v;
    return this;
  }

  /** Zig-zag signed varint (32-bit). */
  varint(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new EncodeError(`Invalid varint ${v}`);
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /** Zig-zag signed varlong (64-bit). */
  varlong(v: bigint | number): this {
    let u = BigInt.asUintN(64, (BigInt(v) << 1n) ^ (BigInt(v) >> 63n));
    this.ensure(10);
    while (u >= 0x80n) {
      this.buffer[this.offset++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buffer[this.offset++] = Number(u);
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.offset);
    this.offset += bytes.length;
    return this;
  }

  string(v: string): this {
    const n = Buffer.byteLength(v);
    if (n > 0x7fff) throw new EncodeError(`String of ${n} bytes is longer than 32767`);
    this.int16(n);
    this.ensure(n);
    this.offset += this.buffer.write(v, this.offset, 'utf8');
    return this;
  }

  nullableString(v: string | null): this {
    return v === null ? this.int16(-1) : this.string(v);
  }

  compactString(v: string): this {
    const n = Buffer.byteLength(v);
    this.uvarint(n + 1);
    this.ensure(n);
    this.offset += this.buffer.write(v, this.offset, 'utf8');
    return this;
  }

  compactNullableString(v: string | null): this {
    return v === null ? this.uvarint(0) : this.compactString(v);
  }

  bytes(v: Uint8Array): this {
    return this.int32(v.length).#field(v);
  }

  nullableBytes(v: Uint8Array | null): this {
    return v === null ? this.int32(-1) : this.bytes(v);
  }

  compactBytes(v: Uint8Array): this {
    return this.uvarint(v.length + 1).#field(v);
  }

  /** The body of a byte field: copied, or referenced when it is long enough. */
  #field(v: Uint8Array): this {
    if (v.length < this.#referenceFrom) return this.raw(v);
    if (this.offset > this.#start) {
      this.#parts.push(this.buffer.subarray(this.#start, this.offset));
      this.#partsLength += this.offset - this.#start;
      this.#start = this.offset;
    }
    this.#parts.push(Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    this.#partsLength += v.length;
    return this;
  }

  compactNullableBytes(v: Uint8Array | null): this {
    return v === null ? this.uvarint(0) : this.compactBytes(v);
  }

  arrayLength(n: number | null): this {
    return this.int32(n === null ? -1 : n);
  }

  compactArrayLength(n: number | null): this {
    return this.uvarint(n === null ? 0 : n + 1);
  }
}
