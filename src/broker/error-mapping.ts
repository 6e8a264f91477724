import { DecodeError } from '../protocol/errors.ts';
import { ErrorCode } from '../protocol/generated/error-codes.ts';
import { isStorageError, type StorageError } from '../storage/errors.ts';
import { BrokerError } from './services/errors.ts';

/**
 * The one place where typed errors of the services and storage become Kafka error codes.
 * Anything unrecognised is UNKNOWN_SERVER_ERROR (and worth a log line by the caller).
 */
export function errorCodeOf(err: unknown): number {
  if (err instanceof BrokerError) return brokerErrorCode(err);
  if (isStorageError(err)) return storageErrorCode(err);
  if (err instanceof DecodeError) return ErrorCode.CORRUPT_MESSAGE;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

function brokerErrorCode(err: BrokerError): number {
  switch (err.kind) {
    case 'invalid-topic':
      return ErrorCode.INVALID_TOPIC_EXCEPTION;
    case 'topic-exists':
      return ErrorCode.TOPIC_ALREADY_EXISTS;
    case 'unknown-topic-or-partition':
      return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    case 'unknown-topic-id':
      return ErrorCode.UNKNOWN_TOPIC_ID;
    case 'invalid-partitions':
      return ErrorCode.INVALID_PARTITIONS;
    case 'invalid-replication-factor':
      return ErrorCode.INVALID_REPLICATION_FACTOR;
    case 'invalid-request':
      return ErrorCode.INVALID_REQUEST;
    case 'invalid-config':
      return ErrorCode.INVALID_CONFIG;
    case 'invalid-replica-assignment':
      return ErrorCode.INVALID_REPLICA_ASSIGNMENT;
    case 'topic-deletion-disabled':
      return ErrorCode.TOPIC_DELETION_DISABLED;
    // Data path (services/replica-errors.ts)
    case 'corrupt-message':
      return ErrorCode.CORRUPT_MESSAGE;
    case 'invalid-record':
      return ErrorCode.INVALID_RECORD;
    case 'record-too-large':
      return ErrorCode.MESSAGE_TOO_LARGE;
    case 'invalid-timestamp':
      return ErrorCode.INVALID_TIMESTAMP;
    case 'unsupported-compression-type':
      return ErrorCode.UNSUPPORTED_COMPRESSION_TYPE;
    case 'invalid-required-acks':
      return ErrorCode.INVALID_REQUIRED_ACKS;
    case 'not-enough-replicas':
      return ErrorCode.NOT_ENOUGH_REPLICAS;
    case 'not-leader-or-follower':
      return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    case 'fenced-leader-epoch':
      return ErrorCode.FENCED_LEADER_EPOCH;
    case 'unknown-leader-epoch':
      return ErrorCode.UNKNOWN_LEADER_EPOCH;
    case 'fetch-session-id-not-found':
      return ErrorCode.FETCH_SESSION_ID_NOT_FOUND;
    case 'invalid-fetch-session-epoch':
      return ErrorCode.INVALID_FETCH_SESSION_EPOCH;
    case 'fetch-session-topic-id-error':
      return ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR;
    default:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
  }
}

function storageErrorCode(err: StorageError): number {
  switch (err.code) {
    case 'ERR_OFFSET_OUT_OF_RANGE':
      return ErrorCode.OFFSET_OUT_OF_RANGE;
    case 'ERR_KAFKA_STORAGE':
    case 'ERR_LOG_DIR_OFFLINE':
      return ErrorCode.KAFKA_STORAGE_ERROR;
    case 'ERR_CORRUPT_RECORD':
      return ErrorCode.CORRUPT_MESSAGE;
    case 'ERR_RECORD_BATCH_TOO_LARGE':
      return ErrorCode.MESSAGE_TOO_LARGE;
    case 'ERR_UNEXPECTED_APPEND_OFFSET':
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    case 'ERR_LOG_CLOSED':
      return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    case 'ERR_INVALID_CONFIG':
      return ErrorCode.INVALID_CONFIG;
    case 'ERR_TOPIC_ALREADY_EXISTS':
      return ErrorCode.TOPIC_ALREADY_EXISTS;
    case 'ERR_UNKNOWN_TOPIC':
      return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    case 'ERR_OUT_OF_ORDER_SEQUENCE':
      return ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER;
    case 'ERR_INVALID_PRODUCER_EPOCH':
      return ErrorCode.INVALID_PRODUCER_EPOCH;
    case 'ERR_INVALID_TXN_STATE':
      return ErrorCode.INVALID_TXN_STATE;
    case 'ERR_TRANSACTION_COORDINATOR_FENCED':
      return ErrorCode.TRANSACTION_COORDINATOR_FENCED;
  }
}

/** A message for the response's error message field, or null when the code says it all. */
export function errorMessageOf(err: unknown): string | null {
  return err instanceof Error ? err.message : null;
}

/**
 * The error code and message for a per-item result (topic, resource, partition). An error
 * that maps to UNKNOWN_SERVER_ERROR is a bug or an unexpected failure: it is logged once here.
 */
export function apiErrorOf(
  err: unknown,
  logger: { error(obj: object, msg: string): void },
  operation: string,
): { errorCode: number; errorMessage: string | null } {
  const errorCode = errorCodeOf(err);
  if (errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) logger.error({ err }, `${operation} failed unexpectedly`);
  return { errorCode, errorMessage: errorMessageOf(err) };
}

/**
 * What a failed write to `__consumer_offsets` turns into for the group APIs (Kafka's
 * mapping of append errors in its group coordinator): a lost or closed log means this
 * broker cannot coordinate, too large a batch is an oversized commit.
 */
export function coordinatorWriteErrorCode(err: unknown, forOffsetCommit: boolean): number {
  const code = errorCodeOf(err);
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
      return forOffsetCommit ? ErrorCode.INVALID_COMMIT_OFFSET_SIZE : ErrorCode.UNKNOWN_SERVER_ERROR;
    default:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
  }
}
