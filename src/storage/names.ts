import { join } from 'node:path';

/**
 * Every file and directory name of a data directory is built and parsed here, nowhere else.
 *
 * ```
 * <dataDir>/
 *   topics.json                      topic metadata (TopicStore)
 *   .clean-shutdown                  present only while the broker is cleanly stopped
 *   cleaner-offset-checkpoint        how far each compacted partition is cleaned (Kafka's format)
 *   producer-id-block                the producer ids handed out so far (the transaction coordinator's)
 *   orders-0/                        one directory per partition: <topic>-<partition>
 *     00000000000000000000.log       segment data, named by its 20-digit base offset
 *     00000000000000000000.index     sparse offset index
 *     00000000000000000000.timeindex time index
 *     00000000000000000000.txnindex  aborted transactions whose marker is in that segment
 *     00000000000000000042.snapshot  producer state as of offset 42 (written on roll and close)
 *     log-start-offset               written by DeleteRecords
 *     00000000000000000000.log.cleaned  a segment the cleaner is writing (removed on open)
 *     00000000000000000000.log.swap     a cleaned segment being swapped in (completed on open)
 *   orders-1.5f3a9c0e.deleted/       a deleted partition waiting for background removal
 * ```
 */

export const LOG_FILE_SUFFIX = '.log';
export const INDEX_FILE_SUFFIX = '.index';
export const TIME_INDEX_FILE_SUFFIX = '.timeindex';
export const TXN_INDEX_FILE_SUFFIX = '.txnindex';
export const PRODUCER_SNAPSHOT_FILE_SUFFIX = '.snapshot';
/** A segment file renamed for deletion; removed once no reader holds it, or at the next start. */
export const DELETED_FILE_SUFFIX = '.deleted';
/** Left behind by an interrupted atomic write; ignored and removed. */
export const TEMP_FILE_SUFFIX = '.tmp';
/** Added to a segment log file while the cleaner writes it (`<base>.log.cleaned`). */
export const CLEANED_FILE_SUFFIX = '.cleaned';
/** A cleaned segment committed to replace old ones, not yet renamed into place (`<base>.log.swap`). */
export const SWAP_FILE_SUFFIX = '.swap';

export const CLEAN_SHUTDOWN_FILE = '.clean-shutdown';
export const LOG_START_OFFSET_FILE = 'log-start-offset';
export const TOPICS_FILE = 'topics.json';
/** Per-partition cleaned-up-to offsets of compacted logs, in Kafka's checkpoint format. */
export const CLEANER_CHECKPOINT_FILE = 'cleaner-offset-checkpoint';
/** The end of the last block of producer ids reserved; a restart continues after it. */
export const PRODUCER_ID_BLOCK_FILE = 'producer-id-block';

export type SegmentFileSuffix =
  | typeof LOG_FILE_SUFFIX
  | typeof INDEX_FILE_SUFFIX
  | typeof TIME_INDEX_FILE_SUFFIX
  | typeof TXN_INDEX_FILE_SUFFIX
  | typeof PRODUCER_SNAPSHOT_FILE_SUFFIX;

const SEGMENT_SUFFIXES: readonly SegmentFileSuffix[] = [
  LOG_FILE_SUFFIX,
  INDEX_FILE_SUFFIX,
  TIME_INDEX_FILE_SUFFIX,
  TXN_INDEX_FILE_SUFFIX,
  PRODUCER_SNAPSHOT_FILE_SUFFIX,
];

const OFFSET_DIGITS = 20;
const MAX_TOPIC_NAME_LENGTH = 249;
const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

/** Kafka's rule: 1–249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`. */
export function isValidTopicName(name: string): boolean {
  return (
    name.length > 0 && name.length <= MAX_TOPIC_NAME_LENGTH && TOPIC_NAME.test(name) && name !== '.' && name !== '..'
  );
}

export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export function partitionDir(dataDir: string, topic: string, partition: number): string {
  return join(dataDir, partitionDirName(topic, partition));
}

/**
 * Splits `orders-0` into topic and partition at the last dash (topic names may contain
 * dashes). Null for anything that is not a live partition directory, including deleted
 * ones (`orders-0.5f3a9c0e.deleted`, whose partition part is not a number).
 */
export function parsePartitionDirName(name: string): { topic: string; partition: number } | null {
  const dash = name.lastIndexOf('-');
  if (dash <= 0) return null;
  const topic = name.slice(0, dash);
  const digits = name.slice(dash + 1);
  if (!/^(0|[1-9][0-9]{0,9})$/.test(digits) || !isValidTopicName(topic)) return null;
  const partition = Number(digits);
  return partition <= 0x7fffffff ? { topic, partition } : null;
}

/** Where a partition directory goes when it is deleted; `unique` keeps repeated deletes apart. */
export function deletedPartitionDirName(topic: string, partition: number, unique: string): string {
  return `${partitionDirName(topic, partition)}.${unique}${DELETED_FILE_SUFFIX}`;
}

export function isDeletedPartitionDirName(name: string): boolean {
  return name.endsWith(DELETED_FILE_SUFFIX) && parsePartitionDirName(name) === null;
}

/** `00000000000000000042.log` */
export function segmentFileName(baseOffset: bigint, suffix: SegmentFileSuffix): string {
  return baseOffset.toString().padStart(OFFSET_DIGITS, '0') + suffix;
}

export function segmentFilePath(dir: string, baseOffset: bigint, suffix: SegmentFileSuffix): string {
  return join(dir, segmentFileName(baseOffset, suffix));
}

/** Inverse of segmentFileName; null for any other file name. */
export function parseSegmentFileName(name: string): { baseOffset: bigint; suffix: SegmentFileSuffix } | null {
  const dot = name.indexOf('.');
  if (dot !== OFFSET_DIGITS) return null;
  const digits = name.slice(0, dot);
  if (!/^[0-9]{20}$/.test(digits)) return null;
  const suffix = SEGMENT_SUFFIXES.find((s) => s === name.slice(dot));
  if (suffix === undefined) return null;
  return { baseOffset: BigInt(digits), suffix };
}

/**
 * A segment log file with a cleaner suffix (`00000000000000000042.log.cleaned`,
 * `….log.swap`): its base offset, or null for any other name.
 */
export function parseCleanerFileName(
  name: string,
  suffix: typeof CLEANED_FILE_SUFFIX | typeof SWAP_FILE_SUFFIX,
): bigint | null {
  if (!name.endsWith(suffix)) return null;
  const parsed = parseSegmentFileName(name.slice(0, -suffix.length));
  return parsed !== null && parsed.suffix === LOG_FILE_SUFFIX ? parsed.baseOffset : null;
}
