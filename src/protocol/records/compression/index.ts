import { DecodeError, EncodeError } from '../../errors.ts';
import { CompressionCodec } from '../batch-header.ts';
import { gzip } from './gzip.ts';
import { lz4 } from './lz4.ts';
import { snappy } from './snappy.ts';
import type { Codec, DecompressOptions } from './types.ts';
import { zstd } from './zstd.ts';

export { gzip } from './gzip.ts';
export { decompressLz4MagicV0, lz4 } from './lz4.ts';
export { snappy, XERIAL_MAGIC } from './snappy.ts';
export type { Codec, DecompressOptions } from './types.ts';
export { xxhash32 } from './xxhash32.ts';
export { ZSTD_DEFAULT_LEVEL, zstd } from './zstd.ts';

/** 256 MiB: far above any real batch (Kafka's default limit is 1 MiB compressed), far below trouble. */
export const DEFAULT_MAX_DECOMPRESSED_SIZE = 256 * 1024 * 1024;

const CODECS: ReadonlyMap<number, Codec> = new Map<number, Codec>([
  [CompressionCodec.Gzip, gzip],
  [CompressionCodec.Snappy, snappy],
  [CompressionCodec.Lz4, lz4],
  [CompressionCodec.Zstd, zstd],
]);

/** Raised by the sync entry points for a codec whose library only works asynchronously (zstd). */
export class SyncCompressionUnavailableError extends Error {
  readonly code = 'ERR_SYNC_COMPRESSION_UNAVAILABLE';
  readonly codec: string;

  constructor(codec: string) {
    super(`Cannot ${codec}-compress or decompress synchronously: use the async variant`);
    this.name = 'SyncCompressionUnavailableError';
    this.codec = codec;
  }
}

/**
 * The codec for an attribute codec id, or DecodeError for ids 5–7, which no Kafka
 * version defines: that is a property of the bytes, so it is reported like one.
 * `position` is where the id was read, for the error.
 */
export function codecFor(id: number, position = 0): Codec {
  const codec = CODECS.get(id);
  if (codec === undefined) throw new DecodeError(`Unknown compression codec ${id}`, position);
  return codec;
}

/** The codec named as configs such as `compression.type` spell it (gzip, snappy, lz4, zstd). */
export function codecByName(name: string): Codec | undefined {
  for (const codec of CODECS.values()) if (codec.name === name) return codec;
  return undefined;
}

function encoderFor(id: number): Codec {
  const codec = CODECS.get(id);
  if (codec === undefined) throw new EncodeError(`Unknown compression codec ${id}`);
  return codec;
}

export async function compress(id: number, data: Uint8Array, level?: number): Promise<Buffer> {
  return encoderFor(id).compress(data, level);
}

export function compressSync(id: number, data: Uint8Array, level?: number): Buffer {
  const codec = encoderFor(id);
  if (codec.compressSync === null) throw new SyncCompressionUnavailableError(codec.name);
  return codec.compressSync(data, level);
}

export async function decompress(id: number, data: Uint8Array, options: DecompressOptions): Promise<Buffer> {
  return codecFor(id, options.position).decompress(data, options);
}

export function decompressSync(id: number, data: Uint8Array, options: DecompressOptions): Buffer {
  const codec = codecFor(id, options.position);
  if (codec.decompressSync === null) throw new SyncCompressionUnavailableError(codec.name);
  return codec.decompressSync(data, options);
}
