import type { BrokerConfig } from '../config.ts';

/** The transaction coordinator's and producer-state settings, under Kafka's broker config keys. */
export interface TransactionConfig {
  /** transaction.state.log.num.partitions */
  stateLogPartitions: number;
  /** transaction.state.log.segment.bytes */
  stateLogSegmentBytes: number;
  /** transaction.max.timeout.ms: the longest transaction.timeout.ms a producer may ask for. */
  maxTimeoutMs: number;
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms */
  abortTimedOutIntervalMs: number;
  /** transactional.id.expiration.ms: idle transactional ids are forgotten after this. */
  transactionalIdExpirationMs: number;
  /** transaction.remove.expired.transaction.cleanup.interval.ms */
  removeExpiredIntervalMs: number;
  /** producer.id.expiration.ms: partitions forget idle producers after this. */
  producerIdExpirationMs: number;
  /** producer.id.expiration.check.interval.ms */
  producerIdExpirationCheckIntervalMs: number;
}

/** Reads the settings; keys the broker config does not define take Kafka's defaults. */
export function transactionConfig(config: BrokerConfig): TransactionConfig {
  const int = (key: string, fallback: number): number => {
    const v = config.get(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`Config "${key}" must be a number, got "${v}"`);
    return n;
  };
  return {
    stateLogPartitions: int('transaction.state.log.num.partitions', 50),
    stateLogSegmentBytes: int('transaction.state.log.segment.bytes', 104_857_600),
    maxTimeoutMs: int('transaction.max.timeout.ms', 900_000),
    abortTimedOutIntervalMs: int('transaction.abort.timed.out.transaction.cleanup.interval.ms', 10_000),
    transactionalIdExpirationMs: int('transactional.id.expiration.ms', 604_800_000),
    removeExpiredIntervalMs: int('transaction.remove.expired.transaction.cleanup.interval.ms', 3_600_000),
    producerIdExpirationMs: int('producer.id.expiration.ms', 86_400_000),
    producerIdExpirationCheckIntervalMs: int('producer.id.expiration.check.interval.ms', 600_000),
  };
}
