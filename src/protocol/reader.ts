import { DecodeError } from './errors.ts';

/**
 * A bounds-checked cursor over bytes. Every read checks the bytes it needs are there and
 * every length read from the input is checked against what remains, so a decoder built on
 * it never allocates more than its input or reads past it: it throws DecodeError instead.
 */
export class Reader {
  readonly buffer: Buffer;
  offset: number;
  readonly end: number;

  constructor(buffer: Uint8Array, offset = 0, end = buffer.length) {
    this.buffer = Buffer.isBuffer(buffer) ? buffer : Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    if (offset < 0 || end > this.buffer.length || offset > end) throw new RangeError('Reader window outside buffer');
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): number {
    const at = this.offset;
    if (n > this.end - at) throw new DecodeError(`Expected ${n} more bytes, ${this.end - at} left`, at);
    this.offset = at + n;
    return at;
  }

  int8(): number {
    return this.buffer.readInt8(this.need(1));
  }

  uint8(): number {
    return this.buffer[this.need(1)]!;
  }

  bool(): boolean {
    return this.buffer[this.need(1)] !== 0;
  }

  int16(): number {
    return this.buffer.readInt16BE(this.need(2));
  }

  uint16(): number {
    return this.buffer.readUInt16BE(this.need(2));
  }

  int32(): number {
    return this.buffer.readInt32BE(this.need(4));
  }

  uint32(): number {
    return this.buffer.readUInt32BE(this.need(4));
  }

  int64(): bigint {
    return this.buffer.readBigInt64BE(this.need(8));
  }

  float64(): number {
    return this.buffer.readDoubleBE(this.need(8));
  }

  /** A 16-byte UUID as Kafka prints it: URL-safe base64 without padding. */
  uuid(): string {
    const at = this.need(16);
    return this.buffer.toString('base64url', at, at + 16);
  }

  /** Unsigned varint of at most 5 bytes holding a value below 2^32. */
  uvarint(): number {
    const start = this.offset;
    let value = 0;
    for (let i = 0; i < 5; i++) {
      if (this.offset >= this.end) throw new DecodeError('Truncated varint', start);
      const b = this.buffer[this.offset++]!;
      if (i === 4 && b > 0x0f) throw new DecodeError('Varint longer than 32 bits', start);
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) return value;
    }
    throw new DecodeError('Varint longer than 5 bytes', start);
  }

  /** Zig-zag signed varint (32-bit). */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** Zig-zag signed varlong (64-bit) of at most 10 bytes. */
  varlong(): bigint {
    const start = this.offset;
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new DecodeError('Truncated varlong', start);
      const b = this.buffer[this.offset++]!;
      if (i === 9 && b > 0x01) throw new DecodeError('Varlong longer than 64 bits', start);
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return (value >> 1n) ^ -(value & 1n);
    }
    throw new DecodeError('Varlong longer than 10 bytes', start);
  }

  /** Zig-zag varlong that must fit in a JavaScript number; record timestamp deltas use it. */
  varlongNumber(): number {
    const start = this.offset;
    const v = this.varlong();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new DecodeError('Varlong outside the safe integer range', start);
    }
    return Number(v);
  }

  /** Raw bytes, sharing memory with the input. */
  raw(n: number): Buffer {
    if (n < 0) throw new DecodeError(`Negative length ${n}`, this.offset);
    const at = this.need(n);
    return this.buffer.subarray(at, at + n);
  }

  /** UTF-8 text; malformed sequences become U+FFFD, as Kafka's own decoder does. */
  private utf8(n: number): string {
    const at = this.need(n);
    return this.buffer.toString('utf8', at, at + n);
  }

  /** Length of a string, bytes or array: −1 is null; anything else must fit in what is left. */
  private length(n: number, at: number, what: string): number | null {
    if (n === -1) return null;
    if (n < -1) throw new DecodeError(`Negative ${what} length ${n}`, at);
    if (n > this.end - this.offset)
      throw new DecodeError(`${what} length ${n} exceeds the ${this.end - this.offset} bytes left`, at);
    return n;
  }

  string(): string {
    const at = this.offset;
    const n = this.length(this.int16(), at, 'String');
    if (n === null) throw new DecodeError('Null string where none is allowed', at);
    return this.utf8(n);
  }

  nullableString(): string | null {
    const at = this.offset;
    const n = this.length(this.int16(), at, 'String');
    return n === null ? null : this.utf8(n);
  }

  compactString(): string {
    const at = this.offset;
    const n = this.length(this.uvarint() - 1, at, 'String');
    if (n === null) throw new DecodeError('Null string where none is allowed', at);
    return this.utf8(n);
  }

  compactNullableString(): string | null {
    const at = this.offset;
    const n = this.length(this.uvarint() - 1, at, 'String');
    return n === null ? null : this.utf8(n);
  }

  bytes(): Buffer {
    const at = this.offset;
    const n = this.length(this.int32(), at, 'Bytes');
    if (n === null) throw new DecodeError('Null bytes where none are allowed', at);
    return this.raw(n);
  }

  nullableBytes(): Buffer | null {
    const at = this.offset;
    const n = this.length(this.int32(), at, 'Bytes');
    return n === null ? null : this.raw(n);
  }

  compactBytes(): Buffer {
    const at = this.offset;
    const n = this.length(this.uvarint() - 1, at, 'Bytes');
    if (n === null) throw new DecodeError('Null bytes where none are allowed', at);
    return this.raw(n);
  }

  compactNullableBytes(): Buffer | null {
    const at = this.offset;
    const n = this.length(this.uvarint() - 1, at, 'Bytes');
    return n === null ? null : this.raw(n);
  }

  /**
   * Element count of an array, null as −1. A count larger than the bytes left is refused
   * before anything is allocated, as Kafka does: no element is smaller than one byte on
   * any message where a large count matters.
   */
  arrayLength(): number | null {
    const at = this.offset;
    return this.length(this.int32(), at, 'Array');
  }

  compactArrayLength(): number | null {
    const at = this.offset;
    return this.length(this.uvarint() - 1, at, 'Array');
  }

  /** A reader over the next n bytes, advancing this one past them. */
  sub(n: number): Reader {
    const at = this.offset;
    if (n < 0 || n > this.end - at)
      throw new DecodeError(`Section length ${n} exceeds the ${this.end - at} bytes left`, at);
    this.offset = at + n;
    return new Reader(this.buffer, at, at + n);
  }
}
