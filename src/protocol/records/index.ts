export * from './batch-header.ts';
export {
  codecByName,
  codecFor,
  compress,
  compressSync,
  DEFAULT_MAX_DECOMPRESSED_SIZE,
  decompress,
  decompressSync,
  SyncCompressionUnavailableError,
} from './compression/index.ts';
export type { Codec, DecompressOptions } from './compression/types.ts';
export * from './control-record.ts';
export { crc32c, crc32cIsNative, crc32cPure } from './crc32c.ts';
export * from './legacy-message-set.ts';
export { type KafkaRecord, type RecordHeader, sizeOfVarint, sizeOfVarlong } from './record.ts';
export * from './record-batch.ts';
