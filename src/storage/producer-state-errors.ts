import { StorageError, topicPartitionLabel } from './errors.ts';

/**
 * Errors of the producer-state checks an append goes through (Kafka's ProducerAppendInfo).
 * They carry facts; error-mapping.ts turns them into OUT_OF_ORDER_SEQUENCE_NUMBER,
 * INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE and TRANSACTION_COORDINATOR_FENCED.
 */

interface ProducerFacts {
  topic: string;
  partition: number;
  producerId: bigint;
}

/** A batch whose first sequence does not follow the producer's last one in this partition. */
export class OutOfOrderSequenceError extends StorageError {
  readonly code = 'ERR_OUT_OF_ORDER_SEQUENCE';
  readonly producerId: bigint;
  readonly sequence: number;
  /** The last sequence the partition holds for the producer, or -1. */
  readonly lastSequence: number;

  constructor(facts: ProducerFacts & { sequence: number; lastSequence: number; epoch: number; newEpoch: boolean }) {
    const where = `"${topicPartitionLabel(facts.topic, facts.partition)}"`;
    super(
      facts.newEpoch
        ? `Cannot append to ${where}: producer ${facts.producerId} starts epoch ${facts.epoch} at sequence ${facts.sequence}, not 0`
        : `Cannot append to ${where}: sequence ${facts.sequence} of producer ${facts.producerId} does not follow its last sequence ${facts.lastSequence}`,
    );
    this.name = 'OutOfOrderSequenceError';
    this.producerId = facts.producerId;
    this.sequence = facts.sequence;
    this.lastSequence = facts.lastSequence;
  }
}

/** A batch or marker whose producer epoch is older than the one the partition has seen (a zombie). */
export class InvalidProducerEpochError extends StorageError {
  readonly code = 'ERR_INVALID_PRODUCER_EPOCH';
  readonly producerId: bigint;
  readonly epoch: number;
  readonly currentEpoch: number;

  constructor(facts: ProducerFacts & { epoch: number; currentEpoch: number }) {
    super(
      `Cannot append to "${topicPartitionLabel(facts.topic, facts.partition)}": epoch ${facts.epoch} of producer ${facts.producerId} is older than its current epoch ${facts.currentEpoch}`,
    );
    this.name = 'InvalidProducerEpochError';
    this.producerId = facts.producerId;
    this.epoch = facts.epoch;
    this.currentEpoch = facts.currentEpoch;
  }
}

/** A non-transactional batch from a producer with a transaction open in this partition. */
export class InvalidTxnStateError extends StorageError {
  readonly code = 'ERR_INVALID_TXN_STATE';
  readonly producerId: bigint;

  constructor(facts: ProducerFacts) {
    super(
      `Cannot append to "${topicPartitionLabel(facts.topic, facts.partition)}": producer ${facts.producerId} sent a non-transactional batch while its transaction is open`,
    );
    this.name = 'InvalidTxnStateError';
    this.producerId = facts.producerId;
  }
}

/** A transaction marker from a coordinator epoch older than the last one that wrote here. */
export class TransactionCoordinatorFencedError extends StorageError {
  readonly code = 'ERR_TRANSACTION_COORDINATOR_FENCED';
  readonly producerId: bigint;

  constructor(facts: ProducerFacts & { coordinatorEpoch: number; currentCoordinatorEpoch: number }) {
    super(
      `Cannot append to "${topicPartitionLabel(facts.topic, facts.partition)}": marker of coordinator epoch ${facts.coordinatorEpoch} for producer ${facts.producerId} is older than ${facts.currentCoordinatorEpoch}`,
    );
    this.name = 'TransactionCoordinatorFencedError';
    this.producerId = facts.producerId;
  }
}
