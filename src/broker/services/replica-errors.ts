import { BrokerError } from './errors.ts';

/**
 * Errors of the data path (produce, fetch, list offsets, leader epochs), carrying facts.
 * error-mapping.ts turns each `kind` into its Kafka error code.
 */

/** One record a batch was rejected for (Produce v8+ RecordErrors): its index in the batch and why. */
export interface RecordError {
  batchIndex: number;
  message: string;
}

/** Bytes that are not well-formed batches, or whose CRC does not match (CORRUPT_MESSAGE). */
export class CorruptMessageError extends BrokerError {
  readonly kind = 'corrupt-message';
}

/** Well-formed batches that break a rule of the log (INVALID_RECORD), e.g. two batches in one partition. */
export class InvalidRecordError extends BrokerError {
  readonly kind = 'invalid-record';
  readonly recordErrors: readonly RecordError[];

  constructor(message: string, recordErrors: readonly RecordError[] = []) {
    super(message);
    this.recordErrors = recordErrors;
  }
}

/** A batch larger than the topic's max.message.bytes (MESSAGE_TOO_LARGE). */
export class RecordTooLargeError extends BrokerError {
  readonly kind = 'record-too-large';
  readonly size: number;
  readonly maxSize: number;

  constructor(message: string, size: number, maxSize: number) {
    super(message);
    this.size = size;
    this.maxSize = maxSize;
  }
}

/** CreateTime timestamps outside message.timestamp.before/after.max.ms (INVALID_TIMESTAMP). */
export class InvalidTimestampError extends BrokerError {
  readonly kind = 'invalid-timestamp';
  readonly recordErrors: readonly RecordError[];

  constructor(message: string, recordErrors: readonly RecordError[]) {
    super(message);
    this.recordErrors = recordErrors;
  }
}

/** zstd before Produce v7 / Fetch v10, or a codec id that does not exist (UNSUPPORTED_COMPRESSION_TYPE). */
export class UnsupportedCompressionTypeError extends BrokerError {
  readonly kind = 'unsupported-compression-type';
}

/** acks other than -1, 0 and 1 (INVALID_REQUIRED_ACKS). */
export class InvalidRequiredAcksError extends BrokerError {
  readonly kind = 'invalid-required-acks';
}

/** acks=all while the in-sync replicas are fewer than min.insync.replicas (NOT_ENOUGH_REPLICAS). */
export class NotEnoughReplicasError extends BrokerError {
  readonly kind = 'not-enough-replicas';
}

/** This broker does not host (or does not lead) the partition yet (NOT_LEADER_OR_FOLLOWER, retriable). */
export class NotLeaderOrFollowerError extends BrokerError {
  readonly kind = 'not-leader-or-follower';
}

/** The client's leader epoch is older than the partition's (FENCED_LEADER_EPOCH). */
export class FencedLeaderEpochError extends BrokerError {
  readonly kind = 'fenced-leader-epoch';
}

/** The client's leader epoch is newer than the partition's (UNKNOWN_LEADER_EPOCH). */
export class UnknownLeaderEpochError extends BrokerError {
  readonly kind = 'unknown-leader-epoch';
}

/** An incremental fetch names a session the cache does not hold (FETCH_SESSION_ID_NOT_FOUND). */
export class FetchSessionIdNotFoundError extends BrokerError {
  readonly kind = 'fetch-session-id-not-found';
}

/** An incremental fetch carries the wrong epoch for its session (INVALID_FETCH_SESSION_EPOCH). */
export class InvalidFetchSessionEpochError extends BrokerError {
  readonly kind = 'invalid-fetch-session-epoch';
}

/** A session created with topic IDs used without them, or the other way round (FETCH_SESSION_TOPIC_ID_ERROR). */
export class FetchSessionTopicIdError extends BrokerError {
  readonly kind = 'fetch-session-topic-id-error';
}

/** The per-record reasons an error carries (Produce v8+ RecordErrors), or none. */
export function recordErrorsOf(err: unknown): readonly RecordError[] {
  if (err instanceof InvalidRecordError || err instanceof InvalidTimestampError) return err.recordErrors;
  return [];
}

/**
 * Thrown by a handler to close the connection after the responses queued before it, the way
 * Kafka answers a failed acks=0 produce (the client learns from the closed connection that
 * it should refresh its metadata).
 */
export class CloseConnectionError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CloseConnectionError';
  }
}
