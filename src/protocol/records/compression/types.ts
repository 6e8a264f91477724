import type { CompressionCodec } from '../batch-header.ts';

export interface DecompressOptions {
  /**
   * Refuse to produce more than this many bytes. Codecs check it before inflating where
   * the format allows, so a small zip bomb costs a small amount of memory: snappy from
   * the lengths its blocks declare (exact), lz4 and zstd from an upper bound read off
   * their block headers (which may refuse data within one block of the limit), gzip by
   * stopping zlib at the limit.
   */
  maxSize: number;
  /** Where the compressed bytes start in the caller's input, so DecodeError offsets point into it. */
  position?: number;
}

/**
 * One compression codec as magic-2 batches (and magic 0/1 wrapper messages) use it.
 * Decompression throws DecodeError and nothing else for any input. The sync variants are
 * null where the underlying library has no synchronous API.
 */
export interface Codec {
  readonly id: CompressionCodec;
  readonly name: string;
  compress(data: Uint8Array, level?: number): Promise<Buffer>;
  readonly compressSync: ((data: Uint8Array, level?: number) => Buffer) | null;
  decompress(data: Uint8Array, options: DecompressOptions): Promise<Buffer>;
  readonly decompressSync: ((data: Uint8Array, options: DecompressOptions) => Buffer) | null;
}

export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Library errors carry their own wording; keep it, drop the stack of a foreign class. */
export function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
