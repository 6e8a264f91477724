import { statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import { uuidHexToWire, uuidWireToHex } from '../../protocol/uuid.ts';
import { validateTopicConfigs } from '../../storage/config.ts';
import { InvalidConfigError, TopicAlreadyExistsError } from '../../storage/errors.ts';
import type { Log } from '../../storage/log.ts';
import type { LogManager } from '../../storage/log-manager.ts';
import type { TopicRecord, TopicStore } from '../../storage/topic-store.ts';
import type { BrokerConfig } from '../config.ts';
import {
  InvalidConfigRequestError,
  InvalidPartitionsError,
  InvalidReplicaAssignmentError,
  InvalidReplicationFactorError,
  InvalidRequestError,
  InvalidTopicError,
  TopicExistsError,
  UnknownTopicIdError,
  UnknownTopicOrPartitionError,
} from './errors.ts';

/** A topic as the handlers see it: the topic ID in Kafka's printed (base64url) form. */
export interface TopicInfo {
  readonly name: string;
  readonly topicId: string;
  readonly partitionCount: number;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
  readonly isInternal: boolean;
}

export interface CreateTopicRequest {
  name: string;
  /** −1 for the broker's num.partitions. */
  numPartitions: number;
  /** −1 for the broker's default.replication.factor. */
  replicationFactor: number;
  configs?: Readonly<Record<string, string>>;
  /**
   * Manual placement, one entry per partition in order; numPartitions and
   * replicationFactor must then be −1. Empty or absent: automatic.
   */
  assignments?: readonly ReplicaAssignment[];
  validateOnly?: boolean;
}

/** The brokers one partition is placed on, leader first. */
export interface ReplicaAssignment {
  partitionIndex: number;
  brokerIds: readonly number[];
}

/** What DescribeLogDirs reports about the data directory. */
export interface LogDirDescription {
  /** Absolute path. */
  path: string;
  offline: boolean;
  /** Bytes of the file system holding it, or −1 when they cannot be read. */
  totalBytes: bigint;
  usableBytes: bigint;
  partitions: Array<{ topic: string; partition: number; size: number }>;
}

const MAX_NAME_LENGTH = 249;
const LEGAL_NAME = /^[a-zA-Z0-9._-]+$/;
const INTERNAL_TOPICS = new Set(['__consumer_offsets', '__transaction_state']);
/** Brokers in this cluster; a single node until clustering lands. */
const AVAILABLE_BROKERS = 1;
/**
 * Partitions this broker will hold in all. Kafka has no such limit, but every partition is
 * a directory and open files, and one request asking for two billion would tie the broker
 * up for hours; this bounds what a single (possibly garbage) request can cost.
 */
export const MAX_PARTITIONS_PER_BROKER = 100_000;

/**
 * Topics of the broker: their durable records (TopicStore) and their partition logs
 * (LogManager) kept in step. Changes run one at a time: each starts from the state the
 * previous one left, so two creates of one name cannot both pass validation, and a
 * read-modify-write of a topic's configs cannot lose a concurrent change.
 */
export class TopicManager {
  readonly #store: TopicStore;
  readonly #logs: LogManager;
  readonly #config: BrokerConfig;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(store: TopicStore, logs: LogManager, config: BrokerConfig) {
    this.#store = store;
    this.#logs = logs;
    this.#config = config;
  }

  /** This broker's id: the only one a replica assignment may name. */
  get nodeId(): number {
    return this.#config.nodeId;
  }

  list(): TopicInfo[] {
    return this.#store.list().map(toInfo);
  }

  get(name: string): TopicInfo | undefined {
    const record = this.#store.get(name);
    return record && toInfo(record);
  }

  getById(wireId: string): TopicInfo | undefined {
    const record = this.#store.getById(uuidWireToHex(wireId));
    return record && toInfo(record);
  }

  /** Checks a name against Kafka's rules; throws InvalidTopicError. */
  static validateName(name: string): void {
    if (name.length === 0) throw new InvalidTopicError('Topic name is empty');
    if (name === '.' || name === '..') throw new InvalidTopicError(`Topic name "${name}" is illegal`);
    if (name.length > MAX_NAME_LENGTH) {
      throw new InvalidTopicError(`Topic name "${name}" is longer than ${MAX_NAME_LENGTH} characters`);
    }
    if (!LEGAL_NAME.test(name)) {
      throw new InvalidTopicError(
        `Topic name "${name}" has characters other than ASCII letters, digits, ".", "_" and "-"`,
      );
    }
  }

  create(request: CreateTopicRequest): Promise<TopicInfo> {
    return this.#serial(async () => {
      const { name } = request;
      const cannot = `Cannot create topic "${name}"`;
      TopicManager.validateName(name);
      if (this.#store.get(name)) throw new TopicExistsError(`${cannot}: it already exists`);
      // '.' and '_' collide in metric names, so Kafka refuses names that differ only there.
      const folded = name.replace(/\./g, '_');
      const collision = this.#store.list().find((t) => t.name.replace(/\./g, '_') === folded);
      if (collision) {
        throw new InvalidTopicError(
          `${cannot}: it collides with existing topic "${collision.name}" ('.' and '_' are alike)`,
        );
      }
      let partitions: number;
      let rf: number;
      if (request.assignments && request.assignments.length > 0) {
        ({ partitions, rf } = this.#checkCreateAssignments(cannot, request));
      } else {
        partitions = request.numPartitions === -1 ? this.#config.int('num.partitions') : request.numPartitions;
        if (!Number.isInteger(partitions) || partitions < 1) {
          throw new InvalidPartitionsError(`${cannot}: number of partitions must be at least 1, got ${partitions}`);
        }
        rf =
          request.replicationFactor === -1 ? this.#config.int('default.replication.factor') : request.replicationFactor;
        if (rf < 1) {
          throw new InvalidReplicationFactorError(`${cannot}: replication factor must be at least 1, got ${rf}`);
        }
        if (rf > AVAILABLE_BROKERS) {
          throw new InvalidReplicationFactorError(
            `${cannot}: replication factor ${rf} exceeds ${AVAILABLE_BROKERS} available broker`,
          );
        }
      }
      this.#checkPartitionBudget(cannot, partitions);
      const configs = { ...(request.configs ?? {}) };
      validateConfigs(cannot, configs);
      if (request.validateOnly) {
        return {
          name,
          topicId: uuidHexToWire('00000000-0000-0000-0000-000000000000'),
          partitionCount: partitions,
          replicationFactor: rf,
          configs,
          isInternal: INTERNAL_TOPICS.has(name),
        };
      }
      let record: TopicRecord;
      try {
        record = await this.#store.create({ name, partitionCount: partitions, replicationFactor: rf, configs });
      } catch (err) {
        if (err instanceof TopicAlreadyExistsError) throw new TopicExistsError(`${cannot}: it already exists`);
        throw err;
      }
      this.#logs.setTopicConfig(name, configs);
      await Promise.all(Array.from({ length: partitions }, (_, p) => this.#logs.getOrCreateLog(name, p)));
      return toInfo(record);
    });
  }

  /**
   * Kafka's rules for a manual assignment (KRaft controller): numPartitions and
   * replicationFactor −1, partitions 0..n−1 in order, every partition with the same
   * number of distinct, existing brokers. Here the only broker is this one.
   */
  #checkCreateAssignments(cannot: string, request: CreateTopicRequest): { partitions: number; rf: number } {
    const assignments = request.assignments!;
    if (request.numPartitions !== -1) {
      throw new InvalidPartitionsError(
        `${cannot}: a manual partition assignment was given, so the number of partitions must be -1, got ${request.numPartitions}`,
      );
    }
    if (request.replicationFactor !== -1) {
      throw new InvalidReplicationFactorError(
        `${cannot}: a manual partition assignment was given, so the replication factor must be -1, got ${request.replicationFactor}`,
      );
    }
    assignments.forEach((assignment, i) => {
      if (assignment.partitionIndex !== i) {
        throw new InvalidReplicaAssignmentError(
          `${cannot}: partition assignments must be given in order from partition 0; expected partition ${i}, got ${assignment.partitionIndex}`,
        );
      }
      this.#checkReplicas(cannot, i, assignment.brokerIds, assignments[0]!.brokerIds.length);
    });
    return { partitions: assignments.length, rf: assignments[0]!.brokerIds.length };
  }

  #checkReplicas(cannot: string, partition: number, brokerIds: readonly number[], expectedCount: number): void {
    if (brokerIds.length === 0) {
      throw new InvalidReplicaAssignmentError(`${cannot}: partition ${partition} is assigned to no broker`);
    }
    if (new Set(brokerIds).size !== brokerIds.length) {
      throw new InvalidReplicaAssignmentError(
        `${cannot}: partition ${partition} is assigned to broker ${brokerIds.find((b, j) => brokerIds.indexOf(b) !== j)} more than once`,
      );
    }
    const unknown = brokerIds.find((b) => b !== this.nodeId);
    if (unknown !== undefined) {
      throw new InvalidReplicaAssignmentError(
        `${cannot}: partition ${partition} is assigned to broker ${unknown}, which does not exist (the only broker is ${this.nodeId})`,
      );
    }
    if (brokerIds.length !== expectedCount) {
      throw new InvalidReplicaAssignmentError(
        `${cannot}: partition ${partition} has ${brokerIds.length} replicas where the others have ${expectedCount}`,
      );
    }
  }

  #checkPartitionBudget(cannot: string, adding: number): void {
    const existing = this.#store.list().reduce((sum, t) => sum + t.partitionCount, 0);
    if (existing + adding > MAX_PARTITIONS_PER_BROKER) {
      throw new InvalidPartitionsError(
        `${cannot}: ${adding} more partitions would exceed the broker's limit of ${MAX_PARTITIONS_PER_BROKER} (it has ${existing})`,
      );
    }
  }

  delete(name: string): Promise<TopicInfo> {
    return this.#serial(async () => {
      const cannot = `Cannot delete topic "${name}"`;
      if (INTERNAL_TOPICS.has(name) && this.#store.get(name)) {
        throw new InvalidRequestError(`${cannot}: it is an internal topic of the broker`);
      }
      const record = await this.#store.delete(name);
      if (!record) throw new UnknownTopicOrPartitionError(`${cannot}: it does not exist`);
      await this.#logs.deleteTopicLogs(name);
      return toInfo(record);
    });
  }

  /** Deletes the topic with this ID (wire form); throws UnknownTopicIdError when there is none. */
  async deleteById(wireId: string): Promise<TopicInfo> {
    const topic = this.getById(wireId);
    if (!topic) throw new UnknownTopicIdError(`Cannot delete topic with ID "${wireId}": it does not exist`);
    try {
      return await this.delete(topic.name);
    } catch (err) {
      // Deleted by name while this request waited in the queue.
      if (err instanceof UnknownTopicOrPartitionError) {
        throw new UnknownTopicIdError(`Cannot delete topic with ID "${wireId}": it does not exist`);
      }
      throw err;
    }
  }

  /**
   * Grows a topic to `totalCount` partitions. `assignments`, when given, places each new
   * partition (one entry per new partition) and may name only this broker.
   */
  addPartitions(
    name: string,
    totalCount: number,
    validateOnly = false,
    assignments: ReadonlyArray<readonly number[]> | null = null,
  ): Promise<TopicInfo> {
    return this.#serial(async () => {
      const cannot = `Cannot add partitions to topic "${name}"`;
      const current = this.#store.get(name);
      if (!current) throw new UnknownTopicOrPartitionError(`${cannot}: it does not exist`);
      if (totalCount === current.partitionCount) {
        throw new InvalidPartitionsError(`${cannot}: it already has ${totalCount} partitions`);
      }
      if (totalCount < current.partitionCount) {
        throw new InvalidPartitionsError(
          `${cannot}: it has ${current.partitionCount} partitions and cannot shrink to ${totalCount}`,
        );
      }
      this.#checkPartitionBudget(cannot, totalCount - current.partitionCount);
      if (assignments !== null) {
        const added = totalCount - current.partitionCount;
        if (assignments.length !== added) {
          throw new InvalidReplicaAssignmentError(
            `${cannot}: ${added} new partitions need ${added} assignments, got ${assignments.length}`,
          );
        }
        assignments.forEach((brokerIds, i) => {
          this.#checkReplicas(cannot, current.partitionCount + i, brokerIds, current.replicationFactor);
        });
      }
      if (validateOnly) return toInfo({ ...current, partitionCount: totalCount });
      const record = await this.#store.update(name, { partitionCount: totalCount });
      await Promise.all(
        Array.from({ length: totalCount - current.partitionCount }, (_, i) =>
          this.#logs.getOrCreateLog(name, current.partitionCount + i),
        ),
      );
      return toInfo(record);
    });
  }

  /** Replaces a topic's config overrides; they take effect on its logs at once. */
  setConfigs(name: string, configs: Readonly<Record<string, string>>): Promise<TopicInfo> {
    return this.updateConfigs(name, () => configs);
  }

  /**
   * Replaces a topic's config overrides with what `change` makes of the current ones,
   * validated, persisted, then applied to its logs at once. `change` runs inside the
   * serial queue, so it sees the overrides the previous change left; it may throw to
   * refuse. With validateOnly nothing is changed.
   */
  updateConfigs(
    name: string,
    change: (current: Readonly<Record<string, string>>) => Readonly<Record<string, string>>,
    validateOnly = false,
  ): Promise<TopicInfo> {
    return this.#serial(async () => {
      const cannot = `Cannot alter configs of topic "${name}"`;
      const current = this.#store.get(name);
      if (!current) throw new UnknownTopicOrPartitionError(`${cannot}: it does not exist`);
      const configs = { ...change(current.configs) };
      validateConfigs(cannot, configs);
      if (validateOnly) return toInfo({ ...current, configs });
      const record = await this.#store.update(name, { configs });
      this.#logs.setTopicConfig(name, configs);
      return toInfo(record);
    });
  }

  /**
   * DeleteRecords for one partition: raises its log start offset to `offset` (−1: the
   * high watermark) and returns the new log start offset (Kafka's low watermark).
   * Throws UnknownTopicOrPartitionError, or the storage's OffsetOutOfRangeError.
   */
  async deleteRecords(name: string, partition: number, offset: bigint): Promise<bigint> {
    const log = await this.partitionLog(name, partition, `Cannot delete records of "${name}-${partition}"`);
    return log.deleteRecordsBefore(offset);
  }

  /**
   * The log of an existing partition, opened if it is not yet (a partition whose directory
   * went missing comes back empty). Throws UnknownTopicOrPartitionError.
   */
  async partitionLog(name: string, partition: number, operation = `Cannot use "${name}-${partition}"`): Promise<Log> {
    const topic = this.#store.get(name);
    if (!topic) throw new UnknownTopicOrPartitionError(`${operation}: topic "${name}" does not exist`);
    if (!Number.isInteger(partition) || partition < 0 || partition >= topic.partitionCount) {
      throw new UnknownTopicOrPartitionError(
        `${operation}: topic "${name}" has partitions 0 to ${topic.partitionCount - 1}, not ${partition}`,
      );
    }
    // No await between the check above and this call: a concurrent delete either has not
    // reached the store yet (and closes the log we get) or has, and we did not get here.
    return this.#logs.getOrCreateLog(name, partition);
  }

  /** The data directory: its partitions with their sizes, and the space of its file system. */
  async describeLogDir(): Promise<LogDirDescription> {
    let totalBytes = -1n;
    let usableBytes = -1n;
    try {
      const stats = await statfs(this.#logs.dataDir, { bigint: true });
      totalBytes = stats.blocks * stats.bsize;
      usableBytes = stats.bavail * stats.bsize;
    } catch {
      // Reported as unknown (−1), as Kafka does when it cannot read them.
    }
    return {
      path: resolve(this.#logs.dataDir),
      offline: this.#logs.isOffline,
      totalBytes,
      usableBytes,
      partitions: this.#logs
        .allLogs()
        .filter((log) => this.#store.get(log.topic) !== undefined)
        .map((log) => ({ topic: log.topic, partition: log.partition, size: log.size })),
    };
  }

  /** Creates a topic a client asked about when auto.create.topics.enable allows it; undefined otherwise. */
  async autoCreate(name: string): Promise<TopicInfo | undefined> {
    if (!this.#config.bool('auto.create.topics.enable')) return undefined;
    try {
      return await this.create({ name, numPartitions: -1, replicationFactor: -1 });
    } catch (err) {
      if (err instanceof TopicExistsError) return this.get(name);
      throw err;
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}

/** Validates overrides, naming the operation in the error (INVALID_CONFIG). */
function validateConfigs(cannot: string, configs: Readonly<Record<string, string>>): void {
  try {
    validateTopicConfigs(configs);
  } catch (err) {
    if (err instanceof InvalidConfigError) {
      throw new InvalidConfigRequestError(`${cannot}: ${err.message.charAt(0).toLowerCase()}${err.message.slice(1)}`);
    }
    throw err;
  }
}

/**
 * The TopicStore replaces a record on every change and never mutates one, so the view of
 * a record can be built once: produce and fetch look topics up per partition per request.
 */
const infos = new WeakMap<TopicRecord, TopicInfo>();

function toInfo(record: TopicRecord): TopicInfo {
  let info = infos.get(record);
  if (info === undefined) {
    info = {
      name: record.name,
      topicId: uuidHexToWire(record.topicId),
      partitionCount: record.partitionCount,
      replicationFactor: record.replicationFactor,
      configs: record.configs,
      isInternal: INTERNAL_TOPICS.has(record.name),
    };
    infos.set(record, info);
  }
  return info;
}
