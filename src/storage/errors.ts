/**
 * Typed errors of the storage layer. They carry facts (offsets, paths, the errno the
 * kernel gave) and never Kafka error codes: one mapping at the handler edge turns them
 * into wire codes (OffsetOutOfRangeError → OFFSET_OUT_OF_RANGE, KafkaStorageError and
 * LogDirOfflineError → KAFKA_STORAGE_ERROR, CorruptRecordError → CORRUPT_MESSAGE, …).
 * Each class has a stable `code` so that mapping can be an exhaustive switch.
 */

export type StorageErrorCode =
  | 'ERR_OFFSET_OUT_OF_RANGE'
  | 'ERR_KAFKA_STORAGE'
  | 'ERR_LOG_DIR_OFFLINE'
  | 'ERR_CORRUPT_RECORD'
  | 'ERR_RECORD_BATCH_TOO_LARGE'
  | 'ERR_UNEXPECTED_APPEND_OFFSET'
  | 'ERR_LOG_CLOSED'
  | 'ERR_INVALID_CONFIG'
  | 'ERR_TOPIC_ALREADY_EXISTS'
  | 'ERR_UNKNOWN_TOPIC'
  // Producer state (producer-state-errors.ts)
  | 'ERR_OUT_OF_ORDER_SEQUENCE'
  | 'ERR_INVALID_PRODUCER_EPOCH'
  | 'ERR_INVALID_TXN_STATE'
  | 'ERR_TRANSACTION_COORDINATOR_FENCED';

export abstract class StorageError extends Error {
  abstract readonly code: StorageErrorCode;
}

export function isStorageError(error: unknown): error is StorageError {
  return error instanceof StorageError;
}

/** `orders-0`, the way Kafka names a partition in messages and directory names. */
export function topicPartitionLabel(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * A read, a DeleteRecords or a ListOffsets asked for an offset outside
 * [logStartOffset, logEndOffset] (or above the high watermark where that is the limit).
 */
export class OffsetOutOfRangeError extends StorageError {
  readonly code = 'ERR_OFFSET_OUT_OF_RANGE';
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;

  constructor(
    operation: string,
    facts: { topic: string; partition: number; offset: bigint; logStartOffset: bigint; logEndOffset: bigint },
  ) {
    super(
      `Cannot ${operation} "${topicPartitionLabel(facts.topic, facts.partition)}" at offset ${facts.offset}: ` +
        `the log holds offsets ${facts.logStartOffset} to ${facts.logEndOffset}`,
    );
    this.name = 'OffsetOutOfRangeError';
    this.topic = facts.topic;
    this.partition = facts.partition;
    this.offset = facts.offset;
    this.logStartOffset = facts.logStartOffset;
    this.logEndOffset = facts.logEndOffset;
  }
}

/**
 * A file-system operation failed (full disk, I/O error, short write). After a failed
 * write the log has been truncated back to its last acknowledged byte and stays online;
 * after a failed fsync the log (and its data directory) goes offline and
 * LogDirOfflineError, a subclass, is thrown instead. See Log for the full story.
 */
export class KafkaStorageError extends StorageError {
  readonly code: 'ERR_KAFKA_STORAGE' | 'ERR_LOG_DIR_OFFLINE' = 'ERR_KAFKA_STORAGE';
  /** What was being done, e.g. `append to "orders-0"`. */
  readonly operation: string;
  /** The file or directory involved, when there is one. */
  readonly path: string | undefined;
  /** The errno name from the kernel (`ENOSPC`, `EIO`), or `ESHORTWRITE` for a short write. */
  readonly errno: string | undefined;

  constructor(operation: string, detail: string, facts: { path?: string; errno?: string; cause?: unknown } = {}) {
    super(`Cannot ${operation}: ${detail}`, facts.cause === undefined ? undefined : { cause: facts.cause });
    this.name = 'KafkaStorageError';
    this.operation = operation;
    this.path = facts.path;
    this.errno = facts.errno;
  }

  /** Wraps an error thrown by the fs seam, keeping its errno and path. */
  static fromIo(operation: string, cause: unknown): KafkaStorageError {
    if (cause instanceof KafkaStorageError) return cause;
    const e = cause as NodeJS.ErrnoException;
    const errno = typeof e?.code === 'string' ? e.code : undefined;
    const path = typeof e?.path === 'string' ? e.path : undefined;
    const what = errno ?? (e instanceof Error ? e.message : String(cause));
    const where = path === undefined || operation.includes(path) ? '' : ` on "${path}"`;
    return new KafkaStorageError(operation, `I/O error${where} (${what})`, { path, errno, cause });
  }
}

/**
 * The log, or the whole data directory, has been taken offline after a failure that left
 * its on-disk state unknown (a failed fsync). Every operation on it fails until the
 * broker is restarted, which runs recovery. Acknowledged data is never affected: it was
 * on disk before it was acknowledged.
 */
export class LogDirOfflineError extends KafkaStorageError {
  override readonly code = 'ERR_LOG_DIR_OFFLINE';
  readonly dir: string;

  constructor(operation: string, dir: string, cause?: unknown) {
    const reason = cause instanceof Error ? `: ${cause.message}` : '';
    super(operation, `log directory "${dir}" is offline${reason}`, { path: dir, cause });
    this.name = 'LogDirOfflineError';
    this.dir = dir;
  }
}

/** Bytes handed to the log are not well-formed magic-2 record batches. */
export class CorruptRecordError extends StorageError {
  readonly code = 'ERR_CORRUPT_RECORD';
  /** Byte position of the offending batch in the buffer or file. */
  readonly position: number;

  constructor(operation: string, reason: string, position: number) {
    super(`Cannot ${operation}: ${reason} at byte ${position}`);
    this.name = 'CorruptRecordError';
    this.position = position;
  }
}

/** A batch is larger than the topic's `max.message.bytes`. */
export class RecordBatchTooLargeError extends StorageError {
  readonly code = 'ERR_RECORD_BATCH_TOO_LARGE';
  readonly size: number;
  readonly maxSize: number;

  constructor(operation: string, size: number, maxSize: number) {
    super(`Cannot ${operation}: record batch of ${size} bytes exceeds "max.message.bytes" ${maxSize}`);
    this.name = 'RecordBatchTooLargeError';
    this.size = size;
    this.maxSize = maxSize;
  }
}

/** A replica append whose first offset is below the log end offset. */
export class UnexpectedAppendOffsetError extends StorageError {
  readonly code = 'ERR_UNEXPECTED_APPEND_OFFSET';
  readonly firstOffset: bigint;
  readonly expectedOffset: bigint;

  constructor(operation: string, firstOffset: bigint, expectedOffset: bigint) {
    super(`Cannot ${operation}: first offset ${firstOffset} is below the log end offset ${expectedOffset}`);
    this.name = 'UnexpectedAppendOffsetError';
    this.firstOffset = firstOffset;
    this.expectedOffset = expectedOffset;
  }
}

/** The log was closed or deleted while the operation waited for it. */
export class LogClosedError extends StorageError {
  readonly code = 'ERR_LOG_CLOSED';
  readonly topic: string;
  readonly partition: number;

  constructor(operation: string, topic: string, partition: number) {
    super(`Cannot ${operation}: log "${topicPartitionLabel(topic, partition)}" is closed`);
    this.name = 'LogClosedError';
    this.topic = topic;
    this.partition = partition;
  }
}

/** A topic config value that is unknown, of the wrong type or out of range. */
export class InvalidConfigError extends StorageError {
  readonly code = 'ERR_INVALID_CONFIG';
  readonly key: string;
  readonly value: string;

  constructor(key: string, value: string, reason: string) {
    super(`Invalid value "${value}" for config "${key}": ${reason}`);
    this.name = 'InvalidConfigError';
    this.key = key;
    this.value = value;
  }
}

export class TopicAlreadyExistsError extends StorageError {
  readonly code = 'ERR_TOPIC_ALREADY_EXISTS';
  readonly topic: string;

  constructor(topic: string) {
    super(`Cannot create topic "${topic}": it already exists`);
    this.name = 'TopicAlreadyExistsError';
    this.topic = topic;
  }
}

export class UnknownTopicError extends StorageError {
  readonly code = 'ERR_UNKNOWN_TOPIC';
  readonly topic: string;

  constructor(operation: string, topic: string) {
    super(`Cannot ${operation}: topic "${topic}" does not exist`);
    this.name = 'UnknownTopicError';
    this.topic = topic;
  }
}
