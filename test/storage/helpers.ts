import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';

/**
 * Test helpers for the storage layer: a minimal encoder for uncompressed magic-2 record
 * batches (independent of src/protocol/records, so the storage tests check against a
 * second implementation), a decoder for what reads return, and temp directories.
 */

export interface TestRecord {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  timestampDelta?: number;
  headers?: Array<[string, string | null]>;
}

export interface TestBatchOptions {
  baseOffset?: bigint;
  baseTimestamp?: number;
  /** Defaults to baseTimestamp + the largest timestampDelta. */
  maxTimestamp?: number;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  partitionLeaderEpoch?: number;
  attributes?: number;
}

function varint(n: number): number[] {
  let z = (n << 1) ^ (n >> 31);
  z >>>= 0;
  const out: number[] = [];
  while (z > 0x7f) {
    out.push((z & 0x7f) | 0x80);
    z >>>= 7;
  }
  out.push(z);
  return out;
}

function bytesOf(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

function nullableBytes(v: string | Buffer | null | undefined): Buffer {
  if (v === null || v === undefined) return Buffer.from(varint(-1));
  const b = bytesOf(v);
  return Buffer.concat([Buffer.from(varint(b.length)), b]);
}

/** Encodes one uncompressed magic-2 batch with a correct CRC-32C. */
export function buildBatch(records: TestRecord[], opts: TestBatchOptions = {}): Buffer {
  const baseTimestamp = opts.baseTimestamp ?? 1_700_000_000_000;
  const bodies = records.map((r, i) => {
    const headers = r.headers ?? [];
    const parts = [
      Buffer.from([0]),
      Buffer.from(varint(r.timestampDelta ?? 0)),
      Buffer.from(varint(i)),
      nullableBytes(r.key),
      nullableBytes(r.value),
      Buffer.from(varint(headers.length)),
      ...headers.flatMap(([k, v]) => [nullableBytes(k), nullableBytes(v)]),
    ];
    const body = Buffer.concat(parts);
    return Buffer.concat([Buffer.from(varint(body.length)), body]);
  });
  const recordsBytes = Buffer.concat(bodies);
  const maxDelta = Math.max(0, ...records.map((r) => r.timestampDelta ?? 0));
  const header = Buffer.alloc(61);
  header.writeBigInt64BE(opts.baseOffset ?? 0n, 0);
  header.writeInt32BE(61 - 12 + recordsBytes.length, 8);
  header.writeInt32BE(opts.partitionLeaderEpoch ?? -1, 12);
  header.writeInt8(2, 16);
  header.writeInt16BE(opts.attributes ?? 0, 21);
  header.writeInt32BE(Math.max(0, records.length - 1), 23);
  header.writeBigInt64BE(BigInt(baseTimestamp), 27);
  header.writeBigInt64BE(BigInt(opts.maxTimestamp ?? baseTimestamp + maxDelta), 35);
  header.writeBigInt64BE(opts.producerId ?? -1n, 43);
  header.writeInt16BE(opts.producerEpoch ?? -1, 51);
  header.writeInt32BE(opts.baseSequence ?? -1, 53);
  header.writeInt32BE(records.length, 57);
  const batch = Buffer.concat([header, recordsBytes]);
  batch.writeUInt32BE(crc32c(batch.subarray(21)) >>> 0, 17);
  return batch;
}

/** A batch of `count` records with values `${prefix}-0`… and timestamps `ts`, `ts+1`… */
export function valuesBatch(prefix: string, count: number, ts = Date.now()): Buffer {
  return buildBatch(
    Array.from({ length: count }, (_, i) => ({ value: `${prefix}-${i}`, timestampDelta: i })),
    { baseTimestamp: ts },
  );
}

export interface DecodedBatch {
  baseOffset: bigint;
  lastOffset: bigint;
  partitionLeaderEpoch: number;
  attributes: number;
  maxTimestamp: bigint;
  crcValid: boolean;
  values: Array<string | null>;
}

function readVarint(buf: Buffer, at: { pos: number }): number {
  let shift = 0;
  let z = 0;
  for (;;) {
    const b = buf[at.pos++]!;
    z |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  return (z >>> 1) ^ -(z & 1);
}

/** Decodes uncompressed batches back to their values (enough to check what a read returned). */
export function decodeBatches(buf: Buffer): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const size = buf.readInt32BE(pos + 8) + 12;
    const batch = buf.subarray(pos, pos + size);
    const count = batch.readInt32BE(57);
    const at = { pos: 61 };
    const values: Array<string | null> = [];
    for (let i = 0; i < count; i++) {
      const len = readVarint(batch, at);
      const end = at.pos + len;
      at.pos += 1;
      readVarint(batch, at);
      readVarint(batch, at);
      const keyLen = readVarint(batch, at);
      if (keyLen > 0) at.pos += keyLen;
      const valueLen = readVarint(batch, at);
      values.push(valueLen < 0 ? null : batch.toString('utf8', at.pos, at.pos + valueLen));
      at.pos = end;
    }
    const baseOffset = batch.readBigInt64BE(0);
    out.push({
      baseOffset,
      lastOffset: baseOffset + BigInt(batch.readInt32BE(23)),
      partitionLeaderEpoch: batch.readInt32BE(12),
      attributes: batch.readInt16BE(21),
      maxTimestamp: batch.readBigInt64BE(35),
      crcValid: crc32c(batch.subarray(21)) >>> 0 === batch.readUInt32BE(17),
      values,
    });
    pos += size;
  }
  return out;
}

/** A fresh directory under the OS temp dir, removed by the returned cleanup. */
export async function tempDir(prefix = 'tributary-storage-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A clock tests move by hand. */
export class ManualClock {
  now: number;

  constructor(start = 1_700_000_000_000) {
    this.now = start;
  }

  readonly read = (): number => this.now;

  advance(ms: number): void {
    this.now += ms;
  }
}
