import zlib from 'node:zlib';
import { DecodeError, EncodeError } from '../errors.ts';
import { batchSizeAt, CompressionCodec, LOG_OVERHEAD, TimestampType } from './batch-header.ts';
import { codecFor, DEFAULT_MAX_DECOMPRESSED_SIZE, decompressLz4MagicV0 } from './compression/index.ts';

/**
 * Magic 0 and 1 "message sets", the format before Kafka 0.11. Clients only meet them in
 * old data and with very old produce/fetch versions; this module reads them (including
 * compressed wrapper messages) and writes just enough of them for tests and conversions.
 */

export const MAGIC_V0 = 0;
export const MAGIC_V1 = 1;
/** crc, magic, attributes, key length, value length. */
const MESSAGE_OVERHEAD_V0 = 14;
/** Magic 1 adds an int64 timestamp. */
const MESSAGE_OVERHEAD_V1 = 22;
const CRC_AT = LOG_OVERHEAD;
const MAGIC_AT = LOG_OVERHEAD + 4;
const LEGACY_CODEC_MASK = 0x07;
const LEGACY_TIMESTAMP_TYPE_MASK = 0x08;

export interface LegacyMessage {
  offset: bigint;
  magic: 0 | 1;
  attributes: number;
  /** Null for magic 0, which has no timestamps. */
  timestamp: bigint | null;
  timestampType: TimestampType | null;
  key: Buffer | null;
  value: Buffer | null;
}

export interface DecodeMessageSetOptions {
  verifyCrc?: boolean;
  /** Per wrapper message. Default 256 MiB. */
  maxDecompressedSize?: number;
  /** Ignore a partial message at the end of the set, as Fetch responses may carry. Default true. */
  allowPartialTail?: boolean;
  /**
   * Replace compressed wrapper messages by the messages inside them, with absolute
   * offsets, as a consumer sees them. Default true; false returns the set as stored.
   */
  deep?: boolean;
}

const TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** zlib's CRC-32, which magic 0/1 use (magic 2 switched to CRC-32C). */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const view = bytes.subarray(start, end);
  if (typeof zlib.crc32 === 'function') return zlib.crc32(view) >>> 0;
  let crc = -1;
  for (let i = 0; i < view.length; i++) crc = TABLE[(crc ^ view[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

interface Parsed {
  message: LegacyMessage;
  size: number;
}

/** Reads the message at `at`, which the caller has checked is wholly inside `buf`. */
function readMessage(buf: Buffer, at: number, size: number, position: number, verifyCrc: boolean): Parsed {
  const fail = (message: string, where: number) => new DecodeError(message, position + where);
  const end = at + size;
  const magic = buf.readInt8(at + MAGIC_AT);
  if (magic !== MAGIC_V0 && magic !== MAGIC_V1) throw fail(`Unsupported message magic ${magic}`, at + MAGIC_AT);
  const overhead = magic === MAGIC_V0 ? MESSAGE_OVERHEAD_V0 : MESSAGE_OVERHEAD_V1;
  if (size - LOG_OVERHEAD < overhead)
    throw fail(`Message size ${size - LOG_OVERHEAD} is below the minimum ${overhead}`, at + 8);
  if (verifyCrc) {
    const stored = buf.readUInt32BE(at + CRC_AT);
    const computed = crc32(buf, at + MAGIC_AT, end);
    if (stored !== computed) {
      throw fail(
        `Message CRC 0x${stored.toString(16)} does not match its content (0x${computed.toString(16)})`,
        at + CRC_AT,
      );
    }
  }
  const attributes = buf.readInt8(at + MAGIC_AT + 1);
  let p = at + MAGIC_AT + 2;
  let timestamp: bigint | null = null;
  let timestampType: TimestampType | null = null;
  if (magic === MAGIC_V1) {
    timestamp = buf.readBigInt64BE(p);
    p += 8;
    timestampType = attributes & LEGACY_TIMESTAMP_TYPE_MASK ? TimestampType.LogAppendTime : TimestampType.CreateTime;
  }
  const field = (what: string): Buffer | null => {
    if (end - p < 4) throw fail(`Truncated message ${what} length`, p);
    const n = buf.readInt32BE(p);
    if (n < -1) throw fail(`Invalid message ${what} length ${n}`, p);
    p += 4;
    if (n === -1) return null;
    if (n > end - p) throw fail(`Message ${what} length ${n} exceeds the ${end - p} bytes left`, p - 4);
    p += n;
    return buf.subarray(p - n, p);
  };
  const key = field('key');
  const value = field('value');
  if (p !== end)
    throw fail(`Message declares ${size - LOG_OVERHEAD} bytes but its fields end ${end - p} bytes earlier`, at + 8);
  const offset = buf.readBigInt64BE(at);
  return { message: { offset, magic, attributes, timestamp, timestampType, key, value }, size };
}

/** Shallow messages of a set, checking framing; `partial` says whether a cut tail is fine. */
function shallow(buf: Buffer, position: number, partial: boolean, verifyCrc: boolean): LegacyMessage[] {
  const out: LegacyMessage[] = [];
  let at = 0;
  while (at < buf.length) {
    const size = batchSizeAt(buf, at);
    if (size === null || size > buf.length - at) {
      if (partial) break;
      throw new DecodeError(`Message set ends with a partial message of ${buf.length - at} bytes`, position + at);
    }
    // The magic byte sits after the CRC; a size too small to reach it is corrupt.
    if (size <= MAGIC_AT) throw new DecodeError(`Message size ${size - LOG_OVERHEAD} is too small`, position + at + 8);
    out.push(readMessage(buf, at, size, position, verifyCrc).message);
    at += size;
  }
  return out;
}

function inner(wrapper: LegacyMessage, position: number, o: DecodeMessageSetOptions): LegacyMessage[] {
  const codecId = wrapper.attributes & LEGACY_CODEC_MASK;
  if (codecId > CompressionCodec.Lz4) {
    throw new DecodeError(`Compression codec ${codecId} is not valid for magic ${wrapper.magic}`, position);
  }
  if (wrapper.value === null) throw new DecodeError('Compressed wrapper message has a null value', position);
  const d = { maxSize: o.maxDecompressedSize ?? DEFAULT_MAX_DECOMPRESSED_SIZE, position };
  const codec = codecFor(codecId, position);
  const data =
    codecId === CompressionCodec.Lz4 && wrapper.magic === MAGIC_V0
      ? decompressLz4MagicV0(wrapper.value, d)
      : codec.decompressSync!(wrapper.value, d);
  let messages: LegacyMessage[];
  try {
    messages = shallow(data, 0, false, o.verifyCrc ?? true);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    throw new DecodeError(`${e.message} of the messages after ${codec.name} decompression`, position);
  }
  if (messages.length === 0) throw new DecodeError('Compressed wrapper message holds no messages', position);
  const last = messages[messages.length - 1]!;
  // Magic 1 wrappers carry relative inner offsets; the wrapper's own offset is the last one's.
  const base = wrapper.magic === MAGIC_V1 ? wrapper.offset - last.offset : 0n;
  const logAppendTime = wrapper.timestampType === TimestampType.LogAppendTime;
  return messages.map((m) => {
    if (m.attributes & LEGACY_CODEC_MASK) {
      throw new DecodeError('Compressed wrapper message holds a compressed message', position);
    }
    if (m.magic !== wrapper.magic) {
      throw new DecodeError(`Message magic ${m.magic} inside a magic ${wrapper.magic} wrapper`, position);
    }
    return {
      ...m,
      offset: base + m.offset,
      ...(logAppendTime ? { timestamp: wrapper.timestamp, timestampType: TimestampType.LogAppendTime } : {}),
    };
  });
}

/**
 * Decodes a magic 0/1 message set. Synchronous: magic 0/1 cannot use zstd, and the other
 * codecs have sync decoders. Throws DecodeError and nothing else for bad input.
 */
export function decodeMessageSet(bytes: Uint8Array, options: DecodeMessageSetOptions = {}): LegacyMessage[] {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const top = shallow(buf, 0, options.allowPartialTail ?? true, options.verifyCrc ?? true);
  if (!(options.deep ?? true)) return top;
  const out: LegacyMessage[] = [];
  let at = 0;
  for (const m of top) {
    if ((m.attributes & LEGACY_CODEC_MASK) === 0) out.push(m);
    else out.push(...inner(m, at, options));
    at += sizeOfMessage(m);
  }
  return out;
}

// ---------------------------------------------------------------------------- encoding

export interface LegacyMessageInput {
  offset?: bigint;
  magic: 0 | 1;
  attributes?: number;
  /** Magic 1 only. */
  timestamp?: bigint;
  key?: Uint8Array | null;
  value?: Uint8Array | null;
}

function sizeOfMessage(m: { magic: 0 | 1; key: Uint8Array | null; value: Uint8Array | null }): number {
  const overhead = m.magic === MAGIC_V0 ? MESSAGE_OVERHEAD_V0 : MESSAGE_OVERHEAD_V1;
  return LOG_OVERHEAD + overhead + (m.key?.length ?? 0) + (m.value?.length ?? 0);
}

/** One message with its offset and size prefix, as it appears in a set. */
export function encodeLegacyMessage(m: LegacyMessageInput): Buffer {
  const key = m.key ?? null;
  const value = m.value ?? null;
  const attributes = m.attributes ?? 0;
  if (m.magic !== MAGIC_V0 && m.magic !== MAGIC_V1) throw new EncodeError(`Invalid message magic ${m.magic}`);
  if (!Number.isInteger(attributes) || attributes < -128 || attributes > 127) {
    throw new EncodeError(`Invalid message attributes ${attributes}`);
  }
  const size = sizeOfMessage({ magic: m.magic, key, value });
  const out = Buffer.alloc(size);
  out.writeBigInt64BE(m.offset ?? 0n, 0);
  out.writeInt32BE(size - LOG_OVERHEAD, 8);
  out.writeInt8(m.magic, MAGIC_AT);
  out.writeInt8(attributes, MAGIC_AT + 1);
  let p = MAGIC_AT + 2;
  if (m.magic === MAGIC_V1) {
    out.writeBigInt64BE(m.timestamp ?? -1n, p);
    p += 8;
  }
  for (const field of [key, value]) {
    out.writeInt32BE(field === null ? -1 : field.length, p);
    p += 4;
    if (field !== null) {
      out.set(field, p);
      p += field.length;
    }
  }
  out.writeUInt32BE(crc32(out, MAGIC_AT, size), CRC_AT);
  return out;
}

export function encodeMessageSet(messages: readonly LegacyMessageInput[]): Buffer {
  return Buffer.concat(messages.map(encodeLegacyMessage));
}

export interface CompressedMessageSetInput {
  magic: 0 | 1;
  codec: typeof CompressionCodec.Gzip | typeof CompressionCodec.Snappy | typeof CompressionCodec.Lz4;
  /** Absolute offset of the first inner message. */
  baseOffset?: bigint;
  /** Magic 1: the wrapper's timestamp, and LogAppendTime if it should override the inner ones. */
  timestamp?: bigint;
  timestampType?: TimestampType;
  messages: ReadonlyArray<Omit<LegacyMessageInput, 'magic' | 'offset'>>;
}

/**
 * One compressed wrapper message holding `messages`, written the way Kafka's broker
 * stores them: inner offsets relative (magic 1) or absolute (magic 0), the wrapper
 * carrying the offset of the last inner message.
 */
export function encodeCompressedMessageSet(input: CompressedMessageSetInput): Buffer {
  const baseOffset = input.baseOffset ?? 0n;
  const innerSet = encodeMessageSet(
    input.messages.map((m, i) => ({
      ...m,
      magic: input.magic,
      offset: input.magic === MAGIC_V1 ? BigInt(i) : baseOffset + BigInt(i),
    })),
  );
  const codec = codecFor(input.codec);
  const typeBit = input.timestampType === TimestampType.LogAppendTime ? LEGACY_TIMESTAMP_TYPE_MASK : 0;
  return encodeLegacyMessage({
    magic: input.magic,
    offset: baseOffset + BigInt(Math.max(input.messages.length - 1, 0)),
    attributes: input.codec | (input.magic === MAGIC_V1 ? typeBit : 0),
    ...(input.timestamp === undefined ? {} : { timestamp: input.timestamp }),
    key: null,
    value: codec.compressSync!(innerSet),
  });
}
