import { ZERO_UUID } from '../protocol/codec.ts';
import { ErrorCode } from '../protocol/generated/error-codes.ts';
import type { MetadataResponse } from '../protocol/generated/messages/metadata.ts';

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionMetadata {
  partition: number;
  /** −1 when the partition has no leader right now. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  errorCode: number;
}

export interface TopicMetadata {
  name: string;
  /** Kafka's topic id in its printed form, or null when the broker did not send one. */
  topicId: string | null;
  isInternal: boolean;
  errorCode: number;
  partitions: PartitionMetadata[];
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * What the client knows of the cluster: brokers, controller, topics with their partition
 * leaders. Replaced topic by topic as Metadata responses come in.
 */
export class MetadataCache {
  clusterId: string | null = null;
  controllerId = -1;
  readonly brokers = new Map<number, BrokerInfo>();
  readonly topics = new Map<string, TopicMetadata>();
  readonly #byId = new Map<string, string>();
  /** When each topic was last refreshed, for metadata.max.age.ms. */
  readonly #updatedAt = new Map<string, number>();
  lastRefresh = 0;

  /**
   * Applies a Metadata response. `requested` is the list of topics asked for, or null when
   * all were: topics the broker no longer reports are then forgotten.
   */
  update(response: MetadataResponse, requested: readonly string[] | null, now = Date.now()): void {
    this.clusterId = response.clusterId;
    this.controllerId = response.controllerId;
    this.brokers.clear();
    for (const b of response.brokers) {
      this.brokers.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack });
    }
    const seen = new Set<string>();
    for (const t of response.topics) {
      if (t.name === null) continue;
      seen.add(t.name);
      if (t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION || t.errorCode === ErrorCode.INVALID_TOPIC_EXCEPTION) {
        this.#forget(t.name);
        continue;
      }
      const topicId = t.topicId && t.topicId !== ZERO_UUID ? t.topicId : null;
      const partitions = t.partitions
        .map(
          (p): PartitionMetadata => ({
            partition: p.partitionIndex,
            leader: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offlineReplicas: p.offlineReplicas,
            errorCode: p.errorCode,
          }),
        )
        .sort((a, b) => a.partition - b.partition);
      // A topic still being created can come back with an error and no partitions; keep
      // what was known rather than forgetting the leaders.
      if (partitions.length === 0 && this.topics.has(t.name) && t.errorCode !== ErrorCode.NONE) continue;
      const old = this.topics.get(t.name);
      if (old?.topicId) this.#byId.delete(old.topicId);
      this.topics.set(t.name, { name: t.name, topicId, isInternal: t.isInternal, errorCode: t.errorCode, partitions });
      if (topicId) this.#byId.set(topicId, t.name);
      this.#updatedAt.set(t.name, now);
    }
    if (requested === null) {
      for (const name of [...this.topics.keys()]) if (!seen.has(name)) this.#forget(name);
    }
    this.lastRefresh = now;
  }

  #forget(name: string): void {
    const old = this.topics.get(name);
    if (old?.topicId) this.#byId.delete(old.topicId);
    this.topics.delete(name);
    this.#updatedAt.delete(name);
  }

  topicNameById(topicId: string): string | undefined {
    return this.#byId.get(topicId);
  }

  partition(topic: string, partition: number): PartitionMetadata | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  /** Partitions with a leader, ascending. */
  availablePartitions(topic: string): number[] {
    return (this.topics.get(topic)?.partitions ?? []).filter((p) => p.leader >= 0).map((p) => p.partition);
  }

  updatedAt(topic: string): number {
    return this.#updatedAt.get(topic) ?? 0;
  }
}
