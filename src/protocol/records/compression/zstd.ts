import { DecodeError } from '../../errors.ts';
import { CompressionCodec } from '../batch-header.ts';
import { lazyBinding } from './native.ts';
import { asBuffer, type Codec, type DecompressOptions, reason } from './types.ts';

const zstdLib = lazyBinding<typeof import('@mongodb-js/zstd')>('@mongodb-js/zstd');

const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const MAX_BLOCK_SIZE = 128 * 1024;
/** libzstd's default decoding limit (windowLog 27); Kafka's Java client keeps it too. */
const MAX_WINDOW_SIZE = 2 ** 27;
/** Windows this small are normal for any producer, whatever limit the caller picked. */
const ALWAYS_ALLOWED_WINDOW = 8 * 1024 * 1024;
/** Kafka's default zstd level. */
export const ZSTD_DEFAULT_LEVEL = 3;

/**
 * Walks frame headers and block headers to bound the output before the native decoder,
 * which has no output limit, gets the data. A raw or RLE block's size is exact; a
 * compressed block yields at most the block maximum. The frame's window is bounded too,
 * because a streaming decoder reserves it before writing anything.
 */
function checkBounds(data: Buffer, o: DecompressOptions): void {
  const position = o.position ?? 0;
  const fail = (message: string, at: number) => new DecodeError(message, position + at);
  const need = (at: number, n: number, what: string) => {
    if (data.length - at < n) throw fail(`Truncated zstd ${what}`, at);
  };
  const windowLimit = Math.min(MAX_WINDOW_SIZE, Math.max(o.maxSize, ALWAYS_ALLOWED_WINDOW));
  let bound = 0;
  let at = 0;
  if (data.length === 0) throw fail('Empty zstd data', 0);
  while (at < data.length) {
    need(at, 4, 'frame magic');
    const magic = data.readUInt32LE(at);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      need(at, 8, 'skippable frame');
      const size = data.readUInt32LE(at + 4);
      need(at + 8, size, 'skippable frame');
      at += 8 + size;
      continue;
    }
    if (magic !== FRAME_MAGIC) throw fail(`Invalid zstd frame magic 0x${magic.toString(16)}`, at);
    const start = at;
    need(at, 5, 'frame header');
    const descriptor = data[at + 4]!;
    at += 5;
    if (descriptor & 0x08) throw fail('Reserved bit set in zstd frame header', start + 4);
    const singleSegment = (descriptor & 0x20) !== 0;
    const contentChecksum = (descriptor & 0x04) !== 0;
    let windowSize = 0;
    if (!singleSegment) {
      need(at, 1, 'frame header');
      const wd = data[at++]!;
      const base = 2 ** (10 + (wd >> 3));
      windowSize = base + (base / 8) * (wd & 7);
    }
    at += [0, 1, 2, 4][descriptor & 3]!;
    const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6]!;
    need(at, fcsSize, 'frame header');
    let contentSize = -1;
    if (fcsSize === 1) contentSize = data[at]!;
    else if (fcsSize === 2) contentSize = data.readUInt16LE(at) + 256;
    else if (fcsSize === 4) contentSize = data.readUInt32LE(at);
    else if (fcsSize === 8) contentSize = data.readUInt32LE(at) + data.readUInt32LE(at + 4) * 2 ** 32;
    at += fcsSize;
    if (contentSize > o.maxSize) {
      throw fail(`Zstd frame declares ${contentSize} bytes, more than the ${o.maxSize}-byte limit`, start);
    }
    if (singleSegment) windowSize = contentSize;
    else if (windowSize > windowLimit) {
      throw fail(`Zstd frame window of ${windowSize} bytes exceeds the ${windowLimit}-byte limit`, start);
    }
    const blockMax = Math.min(windowSize, MAX_BLOCK_SIZE);
    for (;;) {
      need(at, 3, 'block header');
      const header = data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16);
      at += 3;
      const last = (header & 1) !== 0;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) throw fail('Reserved zstd block type', at - 3);
      if (size > blockMax) throw fail(`Zstd block of ${size} bytes exceeds the ${blockMax}-byte maximum`, at - 3);
      if (type === 1) {
        // RLE: one byte on the wire, repeated size times.
        need(at, 1, 'block');
        at += 1;
        bound += size;
      } else {
        need(at, size, 'block');
        at += size;
        bound += type === 0 ? size : blockMax;
      }
      if (bound > o.maxSize) throw fail(`Zstd data may inflate to more than the ${o.maxSize}-byte limit`, start);
      if (last) break;
    }
    if (contentChecksum) {
      need(at, 4, 'content checksum');
      at += 4;
    }
  }
}

async function decompress(input: Uint8Array, o: DecompressOptions): Promise<Buffer> {
  const data = asBuffer(input);
  checkBounds(data, o);
  let out: Buffer;
  try {
    out = await zstdLib().decompress(data);
  } catch (e) {
    throw new DecodeError(`Cannot decompress zstd data: ${reason(e)}`, o.position ?? 0);
  }
  if (out.length > o.maxSize) {
    throw new DecodeError(`Zstd data inflates to more than the ${o.maxSize}-byte limit`, o.position ?? 0);
  }
  return out;
}

// @mongodb-js/zstd offers only promise-based calls, so there are no sync variants here.
export const zstd: Codec = {
  id: CompressionCodec.Zstd,
  name: 'zstd',
  compress: (data, level) => zstdLib().compress(asBuffer(data), level ?? ZSTD_DEFAULT_LEVEL),
  compressSync: null,
  decompress,
  decompressSync: null,
};
