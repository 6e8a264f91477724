/**
 * Errors of the broker's services, carrying facts; the handlers map them to Kafka error
 * codes in one place (error-mapping.ts).
 */
export abstract class BrokerError extends Error {
  abstract readonly kind: string;
}

export class InvalidTopicError extends BrokerError {
  readonly kind = 'invalid-topic';
}

export class TopicExistsError extends BrokerError {
  readonly kind = 'topic-exists';
}

export class UnknownTopicOrPartitionError extends BrokerError {
  readonly kind = 'unknown-topic-or-partition';
}

export class UnknownTopicIdError extends BrokerError {
  readonly kind = 'unknown-topic-id';
}

export class InvalidPartitionsError extends BrokerError {
  readonly kind = 'invalid-partitions';
}

export class InvalidReplicationFactorError extends BrokerError {
  readonly kind = 'invalid-replication-factor';
}

export class InvalidRequestError extends BrokerError {
  readonly kind = 'invalid-request';
}

/** A config change or value the broker refuses (wrong operation for the config's type, unknown key, bad value). */
export class InvalidConfigRequestError extends BrokerError {
  readonly kind = 'invalid-config';
}

/** A manual replica assignment that names missing brokers, repeats one, or does not fit the topic. */
export class InvalidReplicaAssignmentError extends BrokerError {
  readonly kind = 'invalid-replica-assignment';
}

/** DeleteTopics while delete.topic.enable is false. */
export class TopicDeletionDisabledError extends BrokerError {
  readonly kind = 'topic-deletion-disabled';
}
