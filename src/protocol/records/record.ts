import { DecodeError, EncodeError } from '../errors.ts';
import type { Reader } from '../reader.ts';
import type { Writer } from '../writer.ts';

export interface RecordHeader {
  key: string;
  /** Null is allowed on the wire (length −1) and kept distinct from an empty value. */
  value: Buffer | null;
}

/**
 * One record inside a magic-2 batch, with the deltas exactly as stored. Absolute values
 * depend on the batch: see recordOffset and recordTimestamp.
 */
export interface KafkaRecord {
  /** An int8 Kafka reserves and always writes as 0; kept so re-encoding is exact. */
  attributes: number;
  timestampDelta: bigint;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** The smallest record: length, attributes, three deltas/lengths of one byte, no headers. */
export const MIN_RECORD_SIZE = 7;
const MIN_RECORD_BODY = MIN_RECORD_SIZE - 1;
const MIN_HEADER_SIZE = 2;

/** Bytes a zig-zag varint takes. */
export function sizeOfVarint(v: number): number {
  let u = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

/** Bytes a zig-zag varlong takes. */
export function sizeOfVarlong(v: bigint): number {
  let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

// Header keys are UTF-8 in Kafka, but the Java client decodes them with replacement
// characters rather than failing, and the broker never rejects a batch for them.
// Matching that keeps us from refusing batches Kafka accepts.
function utf8Lenient(bytes: Buffer): string {
  return bytes.toString('utf8');
}

function nullableBytes(r: Reader, what: string): Buffer | null {
  const at = r.offset;
  const n = r.varint();
  if (n === -1) return null;
  if (n < -1) throw new DecodeError(`Invalid record ${what} length ${n}`, at);
  if (n > r.remaining) throw new DecodeError(`Record ${what} length ${n} exceeds the ${r.remaining} bytes left`, at);
  return r.raw(n);
}

/**
 * Reads one record. Keys, values and header values are views into the reader's buffer,
 * not copies: callers that keep records must keep (or copy) that buffer.
 */
export function readRecord(r: Reader): KafkaRecord {
  const at = r.offset;
  const length = r.varint();
  if (length < MIN_RECORD_BODY) throw new DecodeError(`Invalid record length ${length}`, at);
  if (length > r.remaining) throw new DecodeError(`Record length ${length} exceeds the ${r.remaining} bytes left`, at);
  const body = r.sub(length);
  const attributes = body.int8();
  const timestampDelta = body.varlong();
  const offsetDelta = body.varint();
  const key = nullableBytes(body, 'key');
  const value = nullableBytes(body, 'value');
  const countAt = body.offset;
  const headerCount = body.varint();
  if (headerCount < 0) throw new DecodeError(`Invalid record header count ${headerCount}`, countAt);
  if (headerCount * MIN_HEADER_SIZE > body.remaining) {
    throw new DecodeError(
      `Record header count ${headerCount} does not fit in the ${body.remaining} bytes left`,
      countAt,
    );
  }
  const headers: RecordHeader[] = [];
  for (let i = 0; i < headerCount; i++) {
    const keyAt = body.offset;
    const keyLength = body.varint();
    if (keyLength < 0) throw new DecodeError(`Invalid record header key length ${keyLength}`, keyAt);
    if (keyLength > body.remaining) {
      throw new DecodeError(`Record header key length ${keyLength} exceeds the ${body.remaining} bytes left`, keyAt);
    }
    const headerKey = utf8Lenient(body.raw(keyLength));
    headers.push({ key: headerKey, value: nullableBytes(body, 'header value') });
  }
  if (body.remaining !== 0) {
    throw new DecodeError(`Record declares ${length} bytes but its fields end ${body.remaining} bytes earlier`, at);
  }
  return { attributes, timestampDelta, offsetDelta, key, value, headers };
}

/** A record ready to write: its body size and header keys as bytes, computed once. */
export interface SizedRecord {
  record: KafkaRecord;
  bodySize: number;
  headerKeys: Buffer[];
}

/** Checks what the wire cannot carry and measures the record, so the writer never guesses. */
export function sizeRecord(record: KafkaRecord): SizedRecord {
  const { attributes, timestampDelta, offsetDelta, key, value, headers } = record;
  if (!Number.isInteger(attributes) || attributes < -128 || attributes > 127) {
    throw new EncodeError(`Invalid record attributes ${attributes}`);
  }
  if (!Number.isInteger(offsetDelta) || offsetDelta < -0x80000000 || offsetDelta > 0x7fffffff) {
    throw new EncodeError(`Invalid record offsetDelta ${offsetDelta}`);
  }
  if (typeof timestampDelta !== 'bigint' || BigInt.asIntN(64, timestampDelta) !== timestampDelta) {
    throw new EncodeError(`Invalid record timestampDelta ${timestampDelta}`);
  }
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta);
  size += key === null ? 1 : sizeOfVarint(key.length) + key.length;
  size += value === null ? 1 : sizeOfVarint(value.length) + value.length;
  size += sizeOfVarint(headers.length);
  const headerKeys: Buffer[] = [];
  for (const h of headers) {
    const k = Buffer.from(h.key, 'utf8');
    headerKeys.push(k);
    size += sizeOfVarint(k.length) + k.length;
    size += h.value === null ? 1 : sizeOfVarint(h.value.length) + h.value.length;
  }
  if (size > 0x7fffffff) throw new EncodeError(`Record of ${size} bytes is too large`);
  return { record, bodySize: size, headerKeys };
}

export function sizeOfRecord(s: SizedRecord): number {
  return sizeOfVarint(s.bodySize) + s.bodySize;
}

export function writeRecord(w: Writer, s: SizedRecord): void {
  const { attributes, timestampDelta, offsetDelta, key, value, headers } = s.record;
  w.varint(s.bodySize).int8(attributes).varlong(timestampDelta).varint(offsetDelta);
  if (key === null) w.varint(-1);
  else w.varint(key.length).raw(key);
  if (value === null) w.varint(-1);
  else w.varint(value.length).raw(value);
  w.varint(headers.length);
  for (let i = 0; i < headers.length; i++) {
    const k = s.headerKeys[i]!;
    const v = headers[i]!.value;
    w.varint(k.length).raw(k);
    if (v === null) w.varint(-1);
    else w.varint(v.length).raw(v);
  }
}
