import { uuidHexToWire, uuidWireToHex } from '../../protocol/uuid.ts';
import { validateTopicConfigs } from '../../storage/config.ts';
import { TopicAlreadyExistsError } from '../../storage/errors.ts';
import type { LogManager } from '../../storage/log-manager.ts';
import type { TopicRecord, TopicStore } from '../../storage/topic-store.ts';
import type { BrokerConfig } from '../config.ts';
import {
  InvalidPartitionsError,
  InvalidReplicationFactorError,
  InvalidTopicError,
  TopicExistsError,
  UnknownTopicOrPartitionError,
} from './errors.ts';

/** A topic as the handlers see it: the topic ID in Kafka's printed (base64url) form. */
export interface TopicInfo {
  name: string;
  topicId: string;
  partitionCount: number;
  replicationFactor: number;
  configs: Readonly<Record<string, string>>;
  isInternal: boolean;
}

export interface CreateTopicRequest {
  name: string;
  /** −1 for the broker's num.partitions. */
  numPartitions: number;
  /** −1 for the broker's default.replication.factor. */
  replicationFactor: number;
  configs?: Readonly<Record<string, string>>;
  validateOnly?: boolean;
}

const MAX_NAME_LENGTH = 249;
const LEGAL_NAME = /^[a-zA-Z0-9._-]+$/;
const INTERNAL_TOPICS = new Set(['__consumer_offsets', '__transaction_state']);
/** Brokers in this cluster; a single node until clustering lands. */
const AVAILABLE_BROKERS = 1;

/**
 * Topics of the broker: their durable records (TopicStore) and their partition logs
 * (LogManager) kept in step. Changes run one at a time: each starts from the state the
 * previous one left, so two creates of one name cannot both pass validation.
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
      TopicManager.validateName(name);
      if (this.#store.get(name)) throw new TopicExistsError(`Topic "${name}" already exists`);
      // '.' and '_' collide in metric names, so Kafka refuses names that differ only there.
      const folded = name.replace(/\./g, '_');
      const collision = this.#store.list().find((t) => t.name.replace(/\./g, '_') === folded);
      if (collision) {
        throw new InvalidTopicError(
          `Topic "${name}" collides with existing topic "${collision.name}" ('.' and '_' are alike)`,
        );
      }
      const partitions = request.numPartitions === -1 ? this.#config.int('num.partitions') : request.numPartitions;
      if (!Number.isInteger(partitions) || partitions < 1) {
        throw new InvalidPartitionsError(
          `Cannot create topic "${name}": number of partitions must be at least 1, got ${partitions}`,
        );
      }
      const rf =
        request.replicationFactor === -1 ? this.#config.int('default.replication.factor') : request.replicationFactor;
      if (rf < 1) {
        throw new InvalidReplicationFactorError(`Cannot create topic "${name}": replication factor must be at least 1`);
      }
      if (rf > AVAILABLE_BROKERS) {
        throw new InvalidReplicationFactorError(
          `Cannot create topic "${name}": replication factor ${rf} exceeds ${AVAILABLE_BROKERS} available broker`,
        );
      }
      const configs = { ...(request.configs ?? {}) };
      validateTopicConfigs(configs);
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
        if (err instanceof TopicAlreadyExistsError) throw new TopicExistsError(`Topic "${name}" already exists`);
        throw err;
      }
      this.#logs.setTopicConfig(name, configs);
      await Promise.all(Array.from({ length: partitions }, (_, p) => this.#logs.getOrCreateLog(name, p)));
      return toInfo(record);
    });
  }

  delete(name: string): Promise<TopicInfo> {
    return this.#serial(async () => {
      const record = await this.#store.delete(name);
      if (!record) throw new UnknownTopicOrPartitionError(`Cannot delete topic "${name}": it does not exist`);
      await this.#logs.deleteTopicLogs(name);
      return toInfo(record);
    });
  }

  addPartitions(name: string, totalCount: number, validateOnly = false): Promise<TopicInfo> {
    return this.#serial(async () => {
      const current = this.#store.get(name);
      if (!current)
        throw new UnknownTopicOrPartitionError(`Cannot add partitions to topic "${name}": it does not exist`);
      if (totalCount <= current.partitionCount) {
        throw new InvalidPartitionsError(
          `Cannot grow topic "${name}" to ${totalCount} partitions: it has ${current.partitionCount} and partitions cannot be removed`,
        );
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
    return this.#serial(async () => {
      if (!this.#store.get(name)) throw new UnknownTopicOrPartitionError(`Topic "${name}" does not exist`);
      validateTopicConfigs(configs);
      const record = await this.#store.update(name, { configs });
      this.#logs.setTopicConfig(name, configs);
      return toInfo(record);
    });
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

function toInfo(record: TopicRecord): TopicInfo {
  return {
    name: record.name,
    topicId: uuidHexToWire(record.topicId),
    partitionCount: record.partitionCount,
    replicationFactor: record.replicationFactor,
    configs: record.configs,
    isInternal: INTERNAL_TOPICS.has(record.name),
  };
}
