/**
 * Tributary's Kafka client: Producer, Consumer and Admin over the Kafka wire protocol,
 * for any Kafka-compatible broker.
 */

export type {
  AdminOptions,
  ClusterDescription,
  ConfigEntry,
  ConfigResource,
  ConfigResourceType,
  ConfigSource,
  CreatedTopic,
  GroupDescription,
  GroupListing,
  GroupMemberDescription,
  IncrementalConfigChange,
  LogDirDescription,
  NewTopic,
  OffsetResetSpec,
  PartitionDescription,
  TopicDescription,
} from './admin.ts';
export { Admin } from './admin.ts';
export { type ClientApi, defineApi } from './api.ts';
export { backoffDelay } from './backoff.ts';
export { Cluster, CoordinatorType, type RetryOptions } from './cluster.ts';
export { Connection, type ConnectionOptions, type SendOptions } from './connection.ts';
export {
  ASSIGNORS,
  type Assignor,
  cooperativeStickyAssignor,
  type GroupMember,
  type RebalanceProtocol,
  rangeAssignor,
  roundRobinAssignor,
} from './consumer/assignors.ts';
export { Consumer, type ConsumerOptions, type ConsumerRecord, type OffsetResetPolicy } from './consumer/consumer.ts';
export {
  type Assignment,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type Subscription,
} from './consumer/consumer-protocol.ts';
export {
  ClientClosedError,
  ConnectionError,
  isRetriable,
  KafkaError,
  type KafkaErrorOptions,
  KafkaTimeoutError,
  RequestTimeoutError,
} from './errors.ts';
export type { BrokerInfo, PartitionMetadata, TopicMetadata, TopicPartition } from './metadata.ts';
export { murmur2, toPositive } from './murmur2.ts';
export type { CommittedOffset, ListedOffset } from './offsets.ts';
export { type BrokerAddress, type ClientLogger, type ClientOptions, parseBootstrap } from './options.ts';
export {
  DefaultPartitioner,
  type DefaultPartitionerOptions,
  type PartitionContext,
  type Partitioner,
  partitionForKey,
} from './partitioner.ts';
export type { RecordMetadata } from './producer/batch.ts';
export {
  type Acks,
  type CompressionType,
  type IdempotenceStatus,
  Producer,
  type ProducerOptions,
  type ProducerRecord,
  type RecordHeadersInput,
} from './producer/producer.ts';
export type { ConsumerGroupMetadata, TransactionState } from './producer/transaction-manager.ts';
export { type Deserializer, deserializers, type Serializer, serializers } from './serializers.ts';
