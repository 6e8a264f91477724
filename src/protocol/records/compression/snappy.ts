import { DecodeError } from '../../errors.ts';
import { CompressionCodec } from '../batch-header.ts';
import { lazyBinding } from './native.ts';
import { asBuffer, type Codec, type DecompressOptions, reason } from './types.ts';

const snappyLib = lazyBinding<typeof import('snappy')>('snappy');

/** Header of the stream format of snappy-java, which the Java client writes. */
export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
const XERIAL_VERSION = 1;
const XERIAL_MIN_COMPATIBLE_VERSION = 1;
/** snappy-java's default block size, which Kafka's producer keeps. */
const XERIAL_BLOCK_SIZE = 32 * 1024;

function isXerialHeader(data: Buffer, at: number): boolean {
  return data.length - at >= XERIAL_HEADER_SIZE && data.compare(XERIAL_MAGIC, 0, 8, at, at + 8) === 0;
}

/** The uncompressed length a raw snappy block declares in its leading varint. */
function declaredLength(data: Buffer, start: number, end: number, position: number): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (start + i >= end) break;
    const b = data[start + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return value;
  }
  throw new DecodeError('Snappy block has no valid length header', position + start);
}

interface Block {
  start: number;
  end: number;
  length: number;
}

/**
 * Locates the raw snappy blocks and adds up what they declare, so nothing is inflated
 * before the total is known to be within the limit.
 */
function blocks(data: Buffer, o: DecompressOptions): Block[] {
  const position = o.position ?? 0;
  const out: Block[] = [];
  if (!isXerialHeader(data, 0)) {
    // Raw snappy: librdkafka and some other clients send one block with no framing.
    out.push({ start: 0, end: data.length, length: declaredLength(data, 0, data.length, position) });
  } else {
    let at = 0;
    while (at < data.length) {
      // snappy-java reads concatenated streams, each with its own header.
      if (isXerialHeader(data, at)) {
        const compatible = data.readInt32BE(at + 12);
        if (compatible < XERIAL_MIN_COMPATIBLE_VERSION) {
          throw new DecodeError(`Unsupported xerial snappy compatible version ${compatible}`, position + at + 12);
        }
        at += XERIAL_HEADER_SIZE;
        continue;
      }
      if (data.length - at < 4) throw new DecodeError('Truncated xerial snappy block length', position + at);
      const size = data.readInt32BE(at);
      if (size <= 0 || size > data.length - at - 4) {
        throw new DecodeError(`Invalid xerial snappy block length ${size}`, position + at);
      }
      const start = at + 4;
      out.push({ start, end: start + size, length: declaredLength(data, start, start + size, position) });
      at = start + size;
    }
  }
  let total = 0;
  for (const b of out) total += b.length;
  if (total > o.maxSize) {
    throw new DecodeError(`Snappy data declares ${total} bytes, more than the ${o.maxSize}-byte limit`, position);
  }
  return out;
}

function decompressSync(input: Uint8Array, o: DecompressOptions): Buffer {
  const data = asBuffer(input);
  const parts: Buffer[] = [];
  for (const b of blocks(data, o)) {
    try {
      parts.push(snappyLib().uncompressSync(data.subarray(b.start, b.end), { asBuffer: true }) as Buffer);
    } catch (e) {
      throw new DecodeError(`Cannot decompress snappy block: ${reason(e)}`, (o.position ?? 0) + b.start);
    }
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** Writes the xerial framing, as the Java producer does, so Java consumers read it unchanged. */
function compressSync(input: Uint8Array): Buffer {
  const data = asBuffer(input);
  const header = Buffer.alloc(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_MIN_COMPATIBLE_VERSION, 12);
  const parts: Buffer[] = [header];
  for (let at = 0; at < data.length; at += XERIAL_BLOCK_SIZE) {
    const block = snappyLib().compressSync(data.subarray(at, Math.min(data.length, at + XERIAL_BLOCK_SIZE)));
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

// Snappy runs at memory speed; for batch-sized inputs a hop to the thread pool costs more
// than it saves, so the async variants do the work in place.
export const snappy: Codec = {
  id: CompressionCodec.Snappy,
  name: 'snappy',
  compress: async (data) => compressSync(data),
  compressSync,
  decompress: async (data, o) => decompressSync(data, o),
  decompressSync,
};
