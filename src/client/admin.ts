import { ZERO_UUID } from '../protocol/codec.ts';
import { ErrorCode } from '../protocol/generated/error-codes.ts';
import { AlterConfigsRequest, AlterConfigsResponse } from '../protocol/generated/messages/alter-configs.ts';
import {
  ConsumerGroupDescribeRequest,
  ConsumerGroupDescribeResponse,
} from '../protocol/generated/messages/consumer-group-describe.ts';
import { CreatePartitionsRequest, CreatePartitionsResponse } from '../protocol/generated/messages/create-partitions.ts';
import { CreateTopicsRequest, CreateTopicsResponse } from '../protocol/generated/messages/create-topics.ts';
import { DeleteGroupsRequest, DeleteGroupsResponse } from '../protocol/generated/messages/delete-groups.ts';
import { DeleteRecordsRequest, DeleteRecordsResponse } from '../protocol/generated/messages/delete-records.ts';
import { DeleteTopicsRequest, DeleteTopicsResponse } from '../protocol/generated/messages/delete-topics.ts';
import { DescribeClusterRequest, DescribeClusterResponse } from '../protocol/generated/messages/describe-cluster.ts';
import { DescribeConfigsRequest, DescribeConfigsResponse } from '../protocol/generated/messages/describe-configs.ts';
import { DescribeGroupsRequest, DescribeGroupsResponse } from '../protocol/generated/messages/describe-groups.ts';
import { DescribeLogDirsRequest, DescribeLogDirsResponse } from '../protocol/generated/messages/describe-log-dirs.ts';
import {
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
} from '../protocol/generated/messages/incremental-alter-configs.ts';
import { ListGroupsRequest, ListGroupsResponse } from '../protocol/generated/messages/list-groups.ts';
import { OffsetDeleteRequest, OffsetDeleteResponse } from '../protocol/generated/messages/offset-delete.ts';
import { type ClientApi, defineApi } from './api.ts';
import { Cluster, CoordinatorType } from './cluster.ts';
import type { Connection } from './connection.ts';
import { decodeAssignment } from './consumer/consumer-protocol.ts';
import { KafkaError } from './errors.ts';
import type { BrokerInfo, TopicPartition } from './metadata.ts';
import {
  type CommittedOffset,
  commitOffsets,
  fetchCommittedOffsets,
  IsolationLevel,
  type ListedOffset,
  listOffsets,
  OffsetSpec,
} from './offsets.ts';
import type { ClientOptions } from './options.ts';

export const CreateTopicsApi = defineApi(CreateTopicsRequest, CreateTopicsResponse, { min: 0, max: 7 });
export const DeleteTopicsApi = defineApi(DeleteTopicsRequest, DeleteTopicsResponse, { min: 0, max: 6 });
export const CreatePartitionsApi = defineApi(CreatePartitionsRequest, CreatePartitionsResponse, { min: 0, max: 3 });
export const DescribeConfigsApi = defineApi(DescribeConfigsRequest, DescribeConfigsResponse, { min: 0, max: 4 });
export const AlterConfigsApi = defineApi(AlterConfigsRequest, AlterConfigsResponse, { min: 0, max: 2 });
export const IncrementalAlterConfigsApi = defineApi(IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, {
  min: 0,
  max: 1,
});
export const ListGroupsApi = defineApi(ListGroupsRequest, ListGroupsResponse, { min: 0, max: 5 });
export const DescribeGroupsApi = defineApi(DescribeGroupsRequest, DescribeGroupsResponse, { min: 0, max: 5 });
export const ConsumerGroupDescribeApi = defineApi(ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, {
  min: 0,
  max: 0,
});
export const DeleteGroupsApi = defineApi(DeleteGroupsRequest, DeleteGroupsResponse, { min: 0, max: 2 });
export const OffsetDeleteApi = defineApi(OffsetDeleteRequest, OffsetDeleteResponse, { min: 0, max: 0 });
export const DeleteRecordsApi = defineApi(DeleteRecordsRequest, DeleteRecordsResponse, { min: 0, max: 2 });
export const DescribeClusterApi = defineApi(DescribeClusterRequest, DescribeClusterResponse, { min: 0, max: 1 });
export const DescribeLogDirsApi = defineApi(DescribeLogDirsRequest, DescribeLogDirsResponse, { min: 0, max: 4 });

export type ConfigResourceType = 'topic' | 'broker' | 'broker-logger' | 'client-metrics' | 'group';
const RESOURCE_TYPES: Record<ConfigResourceType, number> = {
  topic: 2,
  broker: 4,
  'broker-logger': 8,
  'client-metrics': 16,
  group: 32,
};
const CONFIG_SOURCES = [
  'unknown',
  'dynamic-topic',
  'dynamic-broker',
  'dynamic-default-broker',
  'static-broker',
  'default',
  'dynamic-broker-logger',
  'client-metrics',
  'group',
] as const;
export type ConfigSource = (typeof CONFIG_SOURCES)[number];
const INCREMENTAL_OPS = { set: 0, delete: 1, append: 2, subtract: 3 } as const;

export interface NewTopic {
  name: string;
  /** −1 (the default) lets the broker use num.partitions. */
  partitions?: number;
  /** −1 (the default) lets the broker use default.replication.factor. */
  replicationFactor?: number;
  configs?: Readonly<Record<string, string>>;
  /** Explicit replica assignment: partition index → broker ids. */
  assignments?: ReadonlyArray<{ partition: number; brokers: number[] }>;
}

export interface CreatedTopic {
  name: string;
  topicId: string | null;
  partitions: number;
  replicationFactor: number;
}

export interface PartitionDescription {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
}

export interface TopicDescription {
  name: string;
  topicId: string | null;
  isInternal: boolean;
  partitions: PartitionDescription[];
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  isSensitive: boolean;
  source: ConfigSource;
}

export interface ConfigResource {
  type: ConfigResourceType;
  name: string;
}

export interface IncrementalConfigChange {
  name: string;
  /** Null with `delete`. */
  value?: string | null;
  op?: keyof typeof INCREMENTAL_OPS;
}

export interface GroupListing {
  groupId: string;
  protocolType: string;
  /** Empty when the broker's ListGroups version has no states. */
  state: string;
  /** `classic` or `consumer`; empty when the broker's version has no types. */
  type: string;
}

export interface GroupMemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  assignment: TopicPartition[];
}

export interface GroupDescription {
  groupId: string;
  state: string;
  /** `classic` (JoinGroup/SyncGroup) or `consumer` (KIP-848). */
  type: 'classic' | 'consumer';
  protocolType: string;
  /** The assignor (classic: the chosen protocol; consumer: the server assignor). */
  assignor: string;
  members: GroupMemberDescription[];
}

export interface OffsetResetSpec {
  to: 'earliest' | 'latest' | bigint | { timestamp: number | bigint };
}

export interface ClusterDescription {
  clusterId: string | null;
  controllerId: number;
  brokers: BrokerInfo[];
}

export interface LogDirDescription {
  broker: number;
  logDir: string;
  error: KafkaError | null;
  totalBytes: bigint;
  usableBytes: bigint;
  topics: Array<{ name: string; partitions: Array<{ partition: number; size: bigint; offsetLag: bigint }> }>;
}

export interface AdminOptions extends ClientOptions {}

function throwFirst(errors: KafkaError[]): void {
  if (errors.length > 0) throw errors[0];
}

/**
 * Cluster administration: topics, configs, groups and their offsets, records, cluster
 * and log dir descriptions. Methods that take several items do all they can and throw the
 * first failure, its message naming the item.
 */
export class Admin {
  readonly cluster: Cluster;

  constructor(options: AdminOptions) {
    this.cluster = new Cluster(options, { allowAutoTopicCreation: false });
  }

  async connect(): Promise<void> {
    await this.cluster.connect();
  }

  async close(): Promise<void> {
    await this.cluster.close();
  }

  /** Sends to the controller when metadata names one (KRaft brokers forward otherwise). */
  async #controller(): Promise<Connection> {
    if (this.cluster.metadata.lastRefresh === 0) await this.cluster.fetchMetadata([]);
    const id = this.cluster.metadata.controllerId;
    if (id >= 0 && this.cluster.metadata.brokers.has(id)) return this.cluster.connection(id);
    return this.cluster.anyConnection();
  }

  async #sendToController<Req, Res>(operation: string, api: ClientApi<Req, Res>, body: (version: number) => Req) {
    return this.cluster.retry(operation, async () => {
      const connection = await this.#controller();
      const version = connection.versionFor(api);
      return connection.send(api, body(version), { version });
    });
  }

  // ------------------------------------------------------------------ topics

  async createTopics(
    topics: readonly NewTopic[],
    options: { validateOnly?: boolean; timeoutMs?: number } = {},
  ): Promise<CreatedTopic[]> {
    const response = await this.#sendToController('Cannot create topics', CreateTopicsApi, () => ({
      topics: topics.map((t) => ({
        name: t.name,
        numPartitions: t.assignments ? -1 : (t.partitions ?? -1),
        replicationFactor: t.assignments ? -1 : (t.replicationFactor ?? -1),
        assignments: (t.assignments ?? []).map((a) => ({ partitionIndex: a.partition, brokerIds: a.brokers })),
        configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
      timeoutMs: options.timeoutMs ?? this.cluster.requestTimeoutMs,
      validateOnly: options.validateOnly ?? false,
    }));
    const errors: KafkaError[] = [];
    const created: CreatedTopic[] = [];
    for (const t of response.topics) {
      if (t.errorCode !== ErrorCode.NONE) {
        errors.push(KafkaError.fromCode(t.errorCode, `Cannot create topic "${t.name}"`, t.errorMessage));
        continue;
      }
      created.push({
        name: t.name,
        topicId: t.topicId && t.topicId !== ZERO_UUID ? t.topicId : null,
        partitions: t.numPartitions,
        replicationFactor: t.replicationFactor,
      });
    }
    throwFirst(errors);
    return created;
  }

  async createTopic(name: string, options: Omit<NewTopic, 'name'> = {}): Promise<CreatedTopic> {
    const [created] = await this.createTopics([{ name, ...options }]);
    return created!;
  }

  async deleteTopics(names: readonly string[], options: { timeoutMs?: number } = {}): Promise<void> {
    const response = await this.#sendToController('Cannot delete topics', DeleteTopicsApi, (version) => ({
      topicNames: version < 6 ? [...names] : [],
      topics: version >= 6 ? names.map((name) => ({ name, topicId: ZERO_UUID })) : [],
      timeoutMs: options.timeoutMs ?? this.cluster.requestTimeoutMs,
    }));
    throwFirst(
      response.responses
        .filter((r) => r.errorCode !== ErrorCode.NONE)
        .map((r) => KafkaError.fromCode(r.errorCode, `Cannot delete topic "${r.name ?? r.topicId}"`, r.errorMessage)),
    );
  }

  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    const response = await this.cluster.retry('Cannot list topics', () => this.cluster.fetchMetadata(null));
    return response.topics
      .filter((t) => t.name !== null && t.errorCode === ErrorCode.NONE && (options.includeInternal || !t.isInternal))
      .map((t) => t.name!)
      .sort();
  }

  async describeTopics(names: readonly string[]): Promise<TopicDescription[]> {
    const response = await this.cluster.retry('Cannot describe topics', () =>
      this.cluster.fetchMetadata([...names], { allowAutoTopicCreation: false }),
    );
    const errors: KafkaError[] = [];
    const out: TopicDescription[] = [];
    for (const name of names) {
      const t = response.topics.find((x) => x.name === name);
      if (t === undefined) {
        errors.push(KafkaError.fromCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Cannot describe topic "${name}"`));
        continue;
      }
      if (t.errorCode !== ErrorCode.NONE) {
        errors.push(KafkaError.fromCode(t.errorCode, `Cannot describe topic "${name}"`));
        continue;
      }
      out.push({
        name,
        topicId: t.topicId && t.topicId !== ZERO_UUID ? t.topicId : null,
        isInternal: t.isInternal,
        partitions: t.partitions
          .map((p) => ({
            partition: p.partitionIndex,
            leader: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offlineReplicas: p.offlineReplicas,
          }))
          .sort((a, b) => a.partition - b.partition),
      });
    }
    throwFirst(errors);
    return out;
  }

  /** Raises topics' partition counts to the given totals. */
  async createPartitions(
    topics: ReadonlyArray<{ topic: string; count: number; assignments?: number[][] }>,
    options: { validateOnly?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    const response = await this.#sendToController('Cannot add partitions', CreatePartitionsApi, () => ({
      topics: topics.map((t) => ({
        name: t.topic,
        count: t.count,
        assignments: t.assignments ? t.assignments.map((brokerIds) => ({ brokerIds })) : null,
      })),
      timeoutMs: options.timeoutMs ?? this.cluster.requestTimeoutMs,
      validateOnly: options.validateOnly ?? false,
    }));
    throwFirst(
      response.results
        .filter((r) => r.errorCode !== ErrorCode.NONE)
        .map((r) => KafkaError.fromCode(r.errorCode, `Cannot add partitions to topic "${r.name}"`, r.errorMessage)),
    );
  }

  // ------------------------------------------------------------------ configs

  /** Broker resources go to that broker; everything else to any broker. */
  async #configConnection(resource: ConfigResource): Promise<Connection> {
    if (resource.type === 'broker' || resource.type === 'broker-logger') {
      const id = Number(resource.name);
      if (resource.name !== '' && Number.isInteger(id)) return this.cluster.connection(id);
    }
    return this.cluster.anyConnection();
  }

  async describeConfigs(
    resources: ReadonlyArray<ConfigResource & { keys?: string[] }>,
  ): Promise<Array<ConfigResource & { configs: ConfigEntry[] }>> {
    const errors: KafkaError[] = [];
    const out: Array<ConfigResource & { configs: ConfigEntry[] }> = [];
    for (const resource of resources) {
      const operation = `Cannot describe configs of ${resource.type} "${resource.name}"`;
      const response = await this.cluster.retry(operation, async () => {
        const connection = await this.#configConnection(resource);
        return connection.send(DescribeConfigsApi, {
          resources: [
            {
              resourceType: RESOURCE_TYPES[resource.type],
              resourceName: resource.name,
              configurationKeys: resource.keys ?? null,
            },
          ],
          includeSynonyms: false,
          includeDocumentation: false,
        });
      });
      for (const r of response.results) {
        if (r.errorCode !== ErrorCode.NONE) {
          errors.push(KafkaError.fromCode(r.errorCode, operation, r.errorMessage));
          continue;
        }
        out.push({
          type: resource.type,
          name: resource.name,
          configs: r.configs.map((c) => ({
            name: c.name,
            value: c.value,
            readOnly: c.readOnly,
            isDefault: c.configSource === 5 || (c.configSource === -1 && c.isDefault),
            isSensitive: c.isSensitive,
            source: CONFIG_SOURCES[c.configSource] ?? 'unknown',
          })),
        });
      }
    }
    throwFirst(errors);
    return out;
  }

  /** Replaces a resource's whole dynamic config (AlterConfigs); prefer incrementalAlterConfigs. */
  async alterConfigs(
    resources: ReadonlyArray<ConfigResource & { configs: Readonly<Record<string, string | null>> }>,
    options: { validateOnly?: boolean } = {},
  ): Promise<void> {
    const errors: KafkaError[] = [];
    for (const resource of resources) {
      const operation = `Cannot alter configs of ${resource.type} "${resource.name}"`;
      const response = await this.cluster.retry(operation, async () => {
        const connection = await this.#configConnection(resource);
        return connection.send(AlterConfigsApi, {
          resources: [
            {
              resourceType: RESOURCE_TYPES[resource.type],
              resourceName: resource.name,
              configs: Object.entries(resource.configs).map(([name, value]) => ({ name, value })),
            },
          ],
          validateOnly: options.validateOnly ?? false,
        });
      });
      for (const r of response.responses) {
        if (r.errorCode !== ErrorCode.NONE) errors.push(KafkaError.fromCode(r.errorCode, operation, r.errorMessage));
      }
    }
    throwFirst(errors);
  }

  /** Sets, deletes, appends to or subtracts from single config keys (IncrementalAlterConfigs). */
  async incrementalAlterConfigs(
    resources: ReadonlyArray<ConfigResource & { configs: readonly IncrementalConfigChange[] }>,
    options: { validateOnly?: boolean } = {},
  ): Promise<void> {
    const errors: KafkaError[] = [];
    for (const resource of resources) {
      const operation = `Cannot alter configs of ${resource.type} "${resource.name}"`;
      const response = await this.cluster.retry(operation, async () => {
        const connection = await this.#configConnection(resource);
        return connection.send(IncrementalAlterConfigsApi, {
          resources: [
            {
              resourceType: RESOURCE_TYPES[resource.type],
              resourceName: resource.name,
              configs: resource.configs.map((c) => ({
                name: c.name,
                configOperation: INCREMENTAL_OPS[c.op ?? 'set'],
                value: c.op === 'delete' ? null : (c.value ?? null),
              })),
            },
          ],
          validateOnly: options.validateOnly ?? false,
        });
      });
      for (const r of response.responses) {
        if (r.errorCode !== ErrorCode.NONE) errors.push(KafkaError.fromCode(r.errorCode, operation, r.errorMessage));
      }
    }
    throwFirst(errors);
  }

  // ------------------------------------------------------------------ groups

  /** Groups of every broker (each broker lists the groups it coordinates). */
  async listGroups(options: { states?: string[]; types?: string[] } = {}): Promise<GroupListing[]> {
    await this.cluster.retry('Cannot list groups', () => this.cluster.fetchMetadata([]));
    const brokers = [...this.cluster.metadata.brokers.keys()];
    const lists = await Promise.all(
      brokers.map((id) =>
        this.cluster.retry(`Cannot list groups of broker ${id}`, async () => {
          const connection = await this.cluster.connection(id);
          const response = await connection.send(ListGroupsApi, {
            statesFilter: options.states ?? [],
            typesFilter: options.types ?? [],
          });
          if (response.errorCode !== ErrorCode.NONE) {
            throw KafkaError.fromCode(response.errorCode, `Cannot list groups of broker ${id}`);
          }
          return response.groups.map((g) => ({
            groupId: g.groupId,
            protocolType: g.protocolType,
            state: g.groupState,
            type: g.groupType,
          }));
        }),
      ),
    );
    return lists.flat().sort((a, b) => a.groupId.localeCompare(b.groupId));
  }

  async describeGroups(groupIds: readonly string[]): Promise<GroupDescription[]> {
    const out: GroupDescription[] = [];
    for (const groupId of groupIds) out.push(await this.#describeGroup(groupId));
    return out;
  }

  async #describeGroup(groupId: string): Promise<GroupDescription> {
    const operation = `Cannot describe group "${groupId}"`;
    return this.cluster.retry(operation, async () => {
      const connection = await this.cluster.coordinator(CoordinatorType.GROUP, groupId);
      if (connection.supports(ConsumerGroupDescribeApi)) {
        const response = await connection.send(ConsumerGroupDescribeApi, {
          groupIds: [groupId],
          includeAuthorizedOperations: false,
        });
        const g = response.groups[0];
        if (g && g.errorCode === ErrorCode.NONE) {
          return {
            groupId,
            state: g.groupState,
            type: 'consumer' as const,
            protocolType: 'consumer',
            assignor: g.assignorName,
            members: g.members.map((m) => ({
              memberId: m.memberId,
              groupInstanceId: m.instanceId,
              clientId: m.clientId,
              clientHost: m.clientHost,
              assignment: m.assignment.topicPartitions.flatMap((t) =>
                t.partitions.map((partition) => ({ topic: t.topicName, partition })),
              ),
            })),
          };
        }
        // A classic group (or none) answers GROUP_ID_NOT_FOUND here; DescribeGroups tells which.
        if (g && g.errorCode !== ErrorCode.GROUP_ID_NOT_FOUND) {
          this.cluster.onCoordinatorError(CoordinatorType.GROUP, groupId, g.errorCode);
          throw KafkaError.fromCode(g.errorCode, operation, g.errorMessage);
        }
      }
      const response = await connection.send(DescribeGroupsApi, {
        groups: [groupId],
        includeAuthorizedOperations: false,
      });
      const g = response.groups[0];
      if (g === undefined)
        throw new KafkaError(`${operation}: the response does not mention it`, { code: 'INVALID_RESPONSE' });
      if (g.errorCode !== ErrorCode.NONE) {
        this.cluster.onCoordinatorError(CoordinatorType.GROUP, groupId, g.errorCode);
        throw KafkaError.fromCode(g.errorCode, operation);
      }
      return {
        groupId,
        state: g.groupState,
        type: 'classic' as const,
        protocolType: g.protocolType,
        assignor: g.protocolData,
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          assignment: g.protocolType === 'consumer' ? safeAssignment(m.memberAssignment) : [],
        })),
      };
    });
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    const errors: KafkaError[] = [];
    for (const groupId of groupIds) {
      const operation = `Cannot delete group "${groupId}"`;
      try {
        await this.cluster.retry(operation, async () => {
          const connection = await this.cluster.coordinator(CoordinatorType.GROUP, groupId);
          const response = await connection.send(DeleteGroupsApi, { groupsNames: [groupId] });
          for (const r of response.results) {
            if (r.errorCode === ErrorCode.NONE) continue;
            this.cluster.onCoordinatorError(CoordinatorType.GROUP, groupId, r.errorCode);
            throw KafkaError.fromCode(r.errorCode, operation);
          }
        });
      } catch (err) {
        if (!(err instanceof KafkaError)) throw err;
        errors.push(err);
      }
    }
    throwFirst(errors);
  }

  /** A group's committed offsets: all of them, or for the given topics only. */
  async listGroupOffsets(groupId: string, topics?: readonly string[]): Promise<CommittedOffset[]> {
    let partitions: TopicPartition[] | null = null;
    if (topics !== undefined) {
      const described = await this.describeTopics(topics);
      partitions = described.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition })));
    }
    const offsets = await fetchCommittedOffsets(this.cluster, groupId, partitions, { requireStable: false });
    return offsets
      .filter((o) => partitions !== null || o.offset >= 0n)
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /** Commits offsets for a group from outside it; the group must have no active members. */
  async alterGroupOffsets(
    groupId: string,
    offsets: ReadonlyArray<TopicPartition & { offset: bigint; metadata?: string }>,
  ): Promise<void> {
    await commitOffsets(this.cluster, groupId, offsets);
  }

  /**
   * Moves a group's offsets on a topic (all its partitions, or those given) to the earliest
   * or latest offset, an absolute offset, or the first offset at a timestamp; with dryRun it
   * only computes them. Returns the new offsets.
   */
  async resetGroupOffsets(
    groupId: string,
    topic: string,
    spec: OffsetResetSpec,
    options: { partitions?: number[]; dryRun?: boolean } = {},
  ): Promise<Array<TopicPartition & { offset: bigint }>> {
    const [described] = await this.describeTopics([topic]);
    const partitions = options.partitions ?? described!.partitions.map((p) => p.partition);
    let offsets: Array<TopicPartition & { offset: bigint }>;
    if (typeof spec.to === 'bigint') {
      const to = spec.to;
      const [earliest, latest] = await Promise.all([
        this.listOffsets(partitions.map((partition) => ({ topic, partition, spec: 'earliest' as const }))),
        this.listOffsets(partitions.map((partition) => ({ topic, partition, spec: 'latest' as const }))),
      ]);
      offsets = partitions.map((partition, i) => {
        const lo = earliest[i]!.offset;
        const hi = latest[i]!.offset;
        let offset = to;
        if (offset < lo) offset = lo;
        if (offset > hi) offset = hi;
        return { topic, partition, offset };
      });
    } else {
      const to = spec.to;
      const listed = await this.listOffsets(
        partitions.map((partition) => ({
          topic,
          partition,
          spec: typeof to === 'string' ? to : { timestamp: BigInt(to.timestamp) },
        })),
      );
      // A timestamp after every record lists −1: the group then starts at the end.
      const ends = listed.some((l) => l.offset < 0n)
        ? await this.listOffsets(partitions.map((partition) => ({ topic, partition, spec: 'latest' as const })))
        : listed;
      offsets = listed.map((l, i) => ({
        topic,
        partition: l.partition,
        offset: l.offset < 0n ? ends[i]!.offset : l.offset,
      }));
    }
    if (!options.dryRun) await this.alterGroupOffsets(groupId, offsets);
    return offsets;
  }

  async deleteGroupOffsets(groupId: string, partitions: readonly TopicPartition[]): Promise<void> {
    const operation = `Cannot delete offsets of group "${groupId}"`;
    const topics = new Map<string, number[]>();
    for (const tp of partitions) topics.set(tp.topic, [...(topics.get(tp.topic) ?? []), tp.partition]);
    await this.cluster.retry(operation, async () => {
      const connection = await this.cluster.coordinator(CoordinatorType.GROUP, groupId);
      const response = await connection.send(OffsetDeleteApi, {
        groupId,
        topics: [...topics].map(([name, ps]) => ({
          name,
          partitions: ps.map((partitionIndex) => ({ partitionIndex })),
        })),
      });
      if (response.errorCode !== ErrorCode.NONE) {
        this.cluster.onCoordinatorError(CoordinatorType.GROUP, groupId, response.errorCode);
        throw KafkaError.fromCode(response.errorCode, operation);
      }
      for (const t of response.topics) {
        for (const p of t.partitions) {
          if (p.errorCode !== ErrorCode.NONE) {
            throw KafkaError.fromCode(p.errorCode, `${operation} for "${t.name}-${p.partitionIndex}"`);
          }
        }
      }
    });
  }

  // ------------------------------------------------------------------ offsets and records

  /** Offsets of partitions: earliest, latest, the one with the largest timestamp, or the first at a timestamp. */
  async listOffsets(
    queries: ReadonlyArray<
      TopicPartition & { spec: 'earliest' | 'latest' | 'max-timestamp' | { timestamp: number | bigint } }
    >,
    options: { isolationLevel?: 'read_uncommitted' | 'read_committed' } = {},
  ): Promise<ListedOffset[]> {
    return listOffsets(
      this.cluster,
      queries.map((q) => ({
        topic: q.topic,
        partition: q.partition,
        timestamp:
          q.spec === 'earliest'
            ? OffsetSpec.EARLIEST
            : q.spec === 'latest'
              ? OffsetSpec.LATEST
              : q.spec === 'max-timestamp'
                ? OffsetSpec.MAX_TIMESTAMP
                : BigInt(q.spec.timestamp),
      })),
      options.isolationLevel === 'read_committed' ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED,
    );
  }

  /** Deletes records before the given offsets (−1: the high watermark); returns the new low watermarks. */
  async deleteRecords(
    partitions: ReadonlyArray<TopicPartition & { offset: bigint }>,
    options: { timeoutMs?: number } = {},
  ): Promise<Array<TopicPartition & { lowWatermark: bigint }>> {
    const results: Array<TopicPartition & { lowWatermark: bigint }> = [];
    let todo = [...partitions];
    await this.cluster.retry('Cannot delete records', async () => {
      for (const topic of new Set(todo.map((p) => p.topic))) await this.cluster.topicMetadata(topic);
      const byLeader = new Map<number, typeof todo>();
      for (const p of todo) {
        const leader = this.cluster.metadata.partition(p.topic, p.partition)?.leader ?? -1;
        if (leader < 0) {
          throw KafkaError.fromCode(
            ErrorCode.LEADER_NOT_AVAILABLE,
            `Cannot delete records of "${p.topic}-${p.partition}"`,
          );
        }
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
      }
      const failed: typeof todo = [];
      let firstError: KafkaError | null = null;
      await Promise.all(
        [...byLeader].map(async ([leader, items]) => {
          const connection = await this.cluster.connection(leader);
          const topics = new Map<string, typeof items>();
          for (const p of items) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p]);
          const response = await connection.send(DeleteRecordsApi, {
            topics: [...topics].map(([name, ps]) => ({
              name,
              partitions: ps.map((p) => ({ partitionIndex: p.partition, offset: p.offset })),
            })),
            timeoutMs: options.timeoutMs ?? this.cluster.requestTimeoutMs,
          });
          for (const t of response.topics) {
            for (const p of t.partitions) {
              if (p.errorCode !== ErrorCode.NONE) {
                const err = KafkaError.fromCode(
                  p.errorCode,
                  `Cannot delete records of "${t.name}-${p.partitionIndex}"`,
                );
                if (!err.retriable) throw err;
                firstError ??= err;
                failed.push(items.find((i) => i.topic === t.name && i.partition === p.partitionIndex)!);
                continue;
              }
              results.push({ topic: t.name, partition: p.partitionIndex, lowWatermark: p.lowWatermark });
            }
          }
        }),
      );
      todo = failed;
      if (firstError) throw firstError;
    });
    return results.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  // ------------------------------------------------------------------ cluster

  async describeCluster(): Promise<ClusterDescription> {
    return this.cluster.retry('Cannot describe the cluster', async () => {
      const connection = await this.cluster.anyConnection();
      if (connection.supports(DescribeClusterApi)) {
        const response = await connection.send(DescribeClusterApi, {
          includeClusterAuthorizedOperations: false,
          endpointType: 1,
        });
        if (response.errorCode !== ErrorCode.NONE) {
          throw KafkaError.fromCode(response.errorCode, 'Cannot describe the cluster', response.errorMessage);
        }
        return {
          clusterId: response.clusterId,
          controllerId: response.controllerId,
          brokers: response.brokers
            .map((b) => ({ nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack }))
            .sort((a, b) => a.nodeId - b.nodeId),
        };
      }
      const response = await this.cluster.fetchMetadata([]);
      return {
        clusterId: response.clusterId,
        controllerId: response.controllerId,
        brokers: response.brokers
          .map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack }))
          .sort((a, b) => a.nodeId - b.nodeId),
      };
    });
  }

  /** Log dirs of the given brokers (all by default), with the size of each partition. */
  async describeLogDirs(brokerIds?: readonly number[]): Promise<LogDirDescription[]> {
    await this.cluster.retry('Cannot describe log dirs', () => this.cluster.fetchMetadata([]));
    const ids = brokerIds ?? [...this.cluster.metadata.brokers.keys()].sort((a, b) => a - b);
    const out: LogDirDescription[] = [];
    for (const id of ids) {
      const operation = `Cannot describe the log dirs of broker ${id}`;
      const response = await this.cluster.retry(operation, async () => {
        const connection = await this.cluster.connection(id);
        return connection.send(DescribeLogDirsApi, { topics: null });
      });
      if (response.errorCode !== ErrorCode.NONE) throw KafkaError.fromCode(response.errorCode, operation);
      for (const r of response.results) {
        out.push({
          broker: id,
          logDir: r.logDir,
          error: r.errorCode === ErrorCode.NONE ? null : KafkaError.fromCode(r.errorCode, `${operation} "${r.logDir}"`),
          totalBytes: r.totalBytes,
          usableBytes: r.usableBytes,
          topics: r.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions
              .filter((p) => !p.isFutureKey)
              .map((p) => ({ partition: p.partitionIndex, size: p.partitionSize, offsetLag: p.offsetLag })),
          })),
        });
      }
    }
    return out;
  }
}

function safeAssignment(bytes: Buffer): TopicPartition[] {
  try {
    return decodeAssignment(bytes).partitions;
  } catch {
    return [];
  }
}
