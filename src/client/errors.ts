import { ERRORS, ErrorCode } from '../protocol/generated/error-codes.ts';

export interface KafkaErrorOptions {
  /** Stable identifier: Kafka's error name (`NOT_LEADER_OR_FOLLOWER`) or a client one (`REQUEST_TIMEOUT`). */
  code: string;
  /** Kafka's numeric error code when the broker sent one; null for errors raised by the client. */
  errorCode?: number | null;
  retriable?: boolean;
  cause?: unknown;
}

/**
 * Every error the client throws. `code` is stable and safe to switch on; `retriable` says
 * whether the same operation may succeed if tried again (the client already retried it
 * where that was safe); `cause` is the lower-level error, if any.
 */
export class KafkaError extends Error {
  override name = 'KafkaError';
  readonly code: string;
  readonly errorCode: number | null;
  readonly retriable: boolean;

  constructor(message: string, options: KafkaErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.errorCode = options.errorCode ?? null;
    this.retriable = options.retriable ?? false;
  }

  /**
   * The error a broker's error code stands for, from Kafka's table of codes. `operation`
   * says what failed (`Cannot produce to "orders-0"`), `detail` is the broker's own
   * message when it sent one.
   */
  static fromCode(errorCode: number, operation: string, detail?: string | null): KafkaError {
    const info = ERRORS.get(errorCode);
    const code = info?.name ?? `UNKNOWN_ERROR_${errorCode}`;
    // Brokers that word their messages like ours already name the operation.
    const message = detail
      ? detail.startsWith(operation)
        ? `${detail} (${code})`
        : `${operation}: ${detail} (${code})`
      : `${operation}: ${describe(code)} (${code})`;
    return new KafkaError(message, { code, errorCode, retriable: info?.retriable ?? false });
  }
}

function describe(code: string): string {
  const words = code.toLowerCase().replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A TCP connection failed or closed; the request may or may not have reached the broker. */
export class ConnectionError extends KafkaError {
  override name = 'ConnectionError';
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'CONNECTION_ERROR', retriable: true, cause });
  }
}

/** A request got no response within its timeout; the client closed that connection. */
export class RequestTimeoutError extends KafkaError {
  override name = 'RequestTimeoutError';
  constructor(message: string) {
    super(message, { code: 'REQUEST_TIMEOUT', retriable: true });
  }
}

/** The client (producer, consumer, admin) was closed while the operation was pending. */
export class ClientClosedError extends KafkaError {
  override name = 'ClientClosedError';
  constructor(what: string) {
    super(`Cannot complete the operation: the ${what} is closed`, { code: 'CLIENT_CLOSED' });
  }
}

/** A wait (for buffer space, metadata, a transaction) outlasted its limit. */
export class KafkaTimeoutError extends KafkaError {
  override name = 'KafkaTimeoutError';
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'TIMEOUT', retriable: true, cause });
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof KafkaError && err.retriable;
}

/** Errors after which the client's picture of partition leaders is stale. */
const STALE_METADATA: ReadonlySet<number> = new Set([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.OFFSET_NOT_AVAILABLE,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.UNKNOWN_TOPIC_ID,
  ErrorCode.INCONSISTENT_TOPIC_ID,
  ErrorCode.NEW_LEADER_ELECTED,
]);

export function needsMetadataRefresh(errorCode: number): boolean {
  return STALE_METADATA.has(errorCode);
}

/** Errors after which the coordinator of a group or transaction must be looked up again. */
export function needsCoordinatorLookup(errorCode: number): boolean {
  return errorCode === ErrorCode.NOT_COORDINATOR || errorCode === ErrorCode.COORDINATOR_NOT_AVAILABLE;
}

export function errorName(errorCode: number): string {
  return ERRORS.get(errorCode)?.name ?? `UNKNOWN_ERROR_${errorCode}`;
}
