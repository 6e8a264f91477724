import { DecodeError } from '../../errors.ts';
import { CompressionCodec } from '../batch-header.ts';
import { lazyBinding } from './native.ts';
import { asBuffer, type Codec, type DecompressOptions, reason } from './types.ts';
import { xxhash32 } from './xxhash32.ts';

const lz4Napi = lazyBinding<typeof import('lz4-napi')>('lz4-napi');

const FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MAGIC_MIN = 0x184d2a50;
const SKIPPABLE_MAGIC_MAX = 0x184d2a5f;
const BLOCK_MAX_SIZES: Record<number, number> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };
/**
 * Every byte of an LZ4 block expands to at most 255 bytes (a match-length extension
 * byte), which bounds a small block far more tightly than the frame's block maximum.
 */
const MAX_BLOCK_RATIO = 255;

interface Frame {
  start: number;
  end: number;
  /** Where the header checksum byte is, for the magic-0 repair. */
  headerChecksumAt: number;
}

/**
 * Walks the frames and blocks of an LZ4 frame stream without decompressing, so the output
 * size is known to be under the limit before anything is inflated. lz4-napi also stops
 * after the first frame, so the frames it must decode are returned one by one.
 */
function frames(data: Buffer, o: DecompressOptions): Frame[] {
  const position = o.position ?? 0;
  const fail = (message: string, at: number) => new DecodeError(message, position + at);
  const need = (at: number, n: number, what: string) => {
    if (data.length - at < n) throw fail(`Truncated lz4 ${what}`, at);
  };
  const out: Frame[] = [];
  let bound = 0;
  let at = 0;
  if (data.length === 0) throw fail('Empty lz4 data', 0);
  while (at < data.length) {
    need(at, 4, 'frame magic');
    const magic = data.readUInt32LE(at);
    if (magic >= SKIPPABLE_MAGIC_MIN && magic <= SKIPPABLE_MAGIC_MAX) {
      need(at, 8, 'skippable frame');
      const size = data.readUInt32LE(at + 4);
      need(at + 8, size, 'skippable frame');
      at += 8 + size;
      continue;
    }
    if (magic !== FRAME_MAGIC) throw fail(`Invalid lz4 frame magic 0x${magic.toString(16)}`, at);
    const start = at;
    need(at, 7, 'frame descriptor');
    const flg = data[at + 4]!;
    const bd = data[at + 5]!;
    if (flg >> 6 !== 1) throw fail(`Unsupported lz4 frame version ${flg >> 6}`, at + 4);
    const blockMax = BLOCK_MAX_SIZES[(bd >> 4) & 7];
    if (blockMax === undefined || (bd & 0x8f) !== 0)
      throw fail(`Invalid lz4 block descriptor 0x${bd.toString(16)}`, at + 5);
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSizeSet = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const dictId = (flg & 0x01) !== 0;
    at += 6;
    if (contentSizeSet) {
      need(at, 8, 'frame descriptor');
      const contentSize = data.readBigUInt64LE(at);
      if (contentSize > BigInt(o.maxSize)) {
        throw fail(`Lz4 frame declares ${contentSize} bytes, more than the ${o.maxSize}-byte limit`, at);
      }
      at += 8;
    }
    if (dictId) at += 4;
    need(at, 1, 'frame descriptor');
    const headerChecksumAt = at;
    at += 1;
    for (;;) {
      need(at, 4, 'block header');
      const word = data.readUInt32LE(at);
      at += 4;
      if (word === 0) break;
      const stored = (word & 0x80000000) !== 0;
      const size = word & 0x7fffffff;
      if (size > blockMax)
        throw fail(`Lz4 block of ${size} bytes exceeds the frame's ${blockMax}-byte maximum`, at - 4);
      need(at, size + (blockChecksum ? 4 : 0), 'block');
      at += size + (blockChecksum ? 4 : 0);
      bound += stored ? size : Math.min(blockMax, size * MAX_BLOCK_RATIO);
      if (bound > o.maxSize) throw fail(`Lz4 data may inflate to more than the ${o.maxSize}-byte limit`, start);
    }
    if (contentChecksum) {
      need(at, 4, 'content checksum');
      at += 4;
    }
    out.push({ start, end: at, headerChecksumAt });
  }
  return out;
}

function decompressFrames(data: Buffer, o: DecompressOptions, repairHeaderChecksum: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const f of frames(data, o)) {
    let frame = data.subarray(f.start, f.end);
    if (repairHeaderChecksum) {
      frame = Buffer.from(frame);
      const hcAt = f.headerChecksumAt - f.start;
      frame[hcAt] = (xxhash32(frame, 4, hcAt) >>> 8) & 0xff;
    }
    try {
      parts.push(lz4Napi().decompressFrameSync(frame));
    } catch (e) {
      throw new DecodeError(`Cannot decompress lz4 frame: ${reason(e)}`, (o.position ?? 0) + f.start);
    }
  }
  const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  // The walk above bounds this already; the check keeps the contract independent of it.
  if (out.length > o.maxSize) {
    throw new DecodeError(`Lz4 data inflates to more than the ${o.maxSize}-byte limit`, o.position ?? 0);
  }
  return out;
}

/**
 * Kafka before 0.10 (magic 0) computed the LZ4 frame descriptor checksum over the magic
 * number too (KAFKA-1493), and librdkafka copies that for magic 0, so a strict decoder
 * rejects every such frame. The checksum protects only the descriptor we parse ourselves,
 * so recomputing it is safe.
 */
export function decompressLz4MagicV0(data: Uint8Array, o: DecompressOptions): Buffer {
  return decompressFrames(asBuffer(data), o, true);
}

function decompressSync(data: Uint8Array, o: DecompressOptions): Buffer {
  return decompressFrames(asBuffer(data), o, false);
}

function compressSync(data: Uint8Array): Buffer {
  return lz4Napi().compressFrameSync(asBuffer(data));
}

// LZ4 runs at memory speed; a thread-pool hop would cost more than it saves on batches.
export const lz4: Codec = {
  id: CompressionCodec.Lz4,
  name: 'lz4',
  compress: async (data) => compressSync(data),
  compressSync,
  decompress: async (data, o) => decompressSync(data, o),
  decompressSync,
};
