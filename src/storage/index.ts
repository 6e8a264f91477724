export type { CleanableLog, CleanerEvent, CleanerStats } from './cleaner/cleaner.ts';
export { LogCleaner, type LogCleanerOptions } from './cleaner/log-cleaner.ts';
export * from './config.ts';
export * from './errors.ts';
export { type Fault, FaultyFs, type FsOperation } from './faulty-fs.ts';
export { type FileStat, nodeFs, type OpenMode, type StorageFile, type StorageFs, writeFileAtomic } from './fs.ts';
export {
  type AppendInfo,
  type AppendOptions,
  EARLIEST_TIMESTAMP,
  type FetchIsolation,
  LATEST_TIMESTAMP,
  Log,
  type LogOptions,
  MAX_TIMESTAMP,
  type ReadOptions,
  type ReadResult,
  type TimestampOffset,
} from './log.ts';
export { LogManager, type LogManagerCleanerOptions, type LogManagerOptions } from './log-manager.ts';
export { LogSegment } from './log-segment.ts';
export * from './names.ts';
export { type NewTopic, type TopicRecord, TopicStore } from './topic-store.ts';
