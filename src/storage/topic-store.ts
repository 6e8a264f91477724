import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { validateTopicConfigs } from './config.ts';
import { InvalidConfigError, KafkaStorageError, TopicAlreadyExistsError, UnknownTopicError } from './errors.ts';
import { nodeFs, type StorageFs, writeFileAtomic } from './fs.ts';
import { isValidTopicName, TOPICS_FILE } from './names.ts';

/** What the broker remembers about a topic across restarts. */
export interface TopicRecord {
  readonly name: string;
  /** Canonical UUID text (`8-4-4-4-12` hex), as Kafka topic IDs are 16 random bytes. */
  readonly topicId: string;
  readonly partitionCount: number;
  readonly replicationFactor: number;
  /** Topic-level config overrides, Kafka key → value exactly as the client sent it. */
  readonly configs: Readonly<Record<string, string>>;
}

export interface NewTopic {
  name: string;
  partitionCount: number;
  replicationFactor?: number;
  configs?: Readonly<Record<string, string>>;
  /** Normally generated; given when re-creating a known topic (tests, imports). */
  topicId?: string;
}

interface TopicsFile {
  version: 1;
  topics: TopicRecord[];
}

const FILE_VERSION = 1;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The topics of a single node, kept in `<dataDir>/topics.json`. Every change rewrites the
 * file atomically (temp file, fdatasync, rename, directory fsync) before it shows in
 * memory, so a crash leaves either the old or the new set of topics and a failed write
 * changes nothing. Changes go through one serial queue, so each one starts from the
 * state the previous one left.
 */
export class TopicStore {
  readonly path: string;
  readonly #fs: StorageFs;
  #topics: Map<string, TopicRecord>;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string, fsys: StorageFs, topics: Map<string, TopicRecord>) {
    this.path = path;
    this.#fs = fsys;
    this.#topics = topics;
  }

  static async open(opts: { dataDir: string; fs?: StorageFs }): Promise<TopicStore> {
    const fsys = opts.fs ?? nodeFs;
    const path = join(opts.dataDir, TOPICS_FILE);
    let bytes: Buffer | null;
    try {
      await fsys.mkdir(opts.dataDir);
      bytes = await fsys.readFile(path);
    } catch (err) {
      throw KafkaStorageError.fromIo(`load topics from "${path}"`, err);
    }
    const topics = new Map<string, TopicRecord>();
    if (bytes !== null) {
      for (const topic of parseTopicsFile(bytes, path)) topics.set(topic.name, topic);
    }
    return new TopicStore(path, fsys, topics);
  }

  list(): TopicRecord[] {
    return [...this.#topics.values()];
  }

  get(name: string): TopicRecord | undefined {
    return this.#topics.get(name);
  }

  getById(topicId: string): TopicRecord | undefined {
    for (const topic of this.#topics.values()) if (topic.topicId === topicId) return topic;
    return undefined;
  }

  /** Adds a topic. Throws TopicAlreadyExistsError, InvalidConfigError, or KafkaStorageError (nothing changed). */
  create(topic: NewTopic): Promise<TopicRecord> {
    return this.#change(`create topic "${topic.name}"`, (topics) => {
      if (topics.has(topic.name)) throw new TopicAlreadyExistsError(topic.name);
      const record: TopicRecord = {
        name: topic.name,
        topicId: topic.topicId ?? randomUUID(),
        partitionCount: topic.partitionCount,
        replicationFactor: topic.replicationFactor ?? 1,
        configs: { ...(topic.configs ?? {}) },
      };
      checkRecord(record);
      topics.set(record.name, record);
      return record;
    });
  }

  /** Changes a topic's partition count (grow only) and/or replaces its config overrides. */
  update(
    name: string,
    change: { partitionCount?: number; configs?: Readonly<Record<string, string>> },
  ): Promise<TopicRecord> {
    return this.#change(`update topic "${name}"`, (topics) => {
      const current = topics.get(name);
      if (current === undefined) throw new UnknownTopicError(`update topic "${name}"`, name);
      const partitionCount = change.partitionCount ?? current.partitionCount;
      if (partitionCount < current.partitionCount) {
        throw new InvalidConfigError(
          'partitionCount',
          String(partitionCount),
          `topic "${name}" already has ${current.partitionCount} partitions and they cannot be removed`,
        );
      }
      const record: TopicRecord = { ...current, partitionCount, configs: { ...(change.configs ?? current.configs) } };
      checkRecord(record);
      topics.set(name, record);
      return record;
    });
  }

  /** Removes a topic; returns it, or undefined when there was none. */
  delete(name: string): Promise<TopicRecord | undefined> {
    return this.#change(`delete topic "${name}"`, (topics) => {
      const current = topics.get(name);
      topics.delete(name);
      return current;
    });
  }

  /**
   * Applies `mutate` to a copy of the topics, writes the copy, and only then makes it the
   * current state. Assumes (serial queue): no other change runs between reading the
   * current map and replacing it.
   */
  #change<T>(operation: string, mutate: (topics: Map<string, TopicRecord>) => T): Promise<T> {
    const run = this.#queue.then(async () => {
      const next = new Map(this.#topics);
      const result = mutate(next);
      const file: TopicsFile = { version: FILE_VERSION, topics: [...next.values()] };
      try {
        await writeFileAtomic(this.#fs, this.path, Buffer.from(`${JSON.stringify(file, null, 2)}\n`));
      } catch (err) {
        throw KafkaStorageError.fromIo(operation, err);
      }
      this.#topics = next;
      return result;
    });
    this.#queue = run.catch(() => {});
    return run;
  }
}

function checkRecord(record: TopicRecord): void {
  if (!isValidTopicName(record.name)) {
    throw new InvalidConfigError('name', record.name, 'topic names are 1 to 249 characters of [a-zA-Z0-9._-]');
  }
  if (!Number.isInteger(record.partitionCount) || record.partitionCount < 1) {
    throw new InvalidConfigError('partitionCount', String(record.partitionCount), 'must be a positive integer');
  }
  if (!Number.isInteger(record.replicationFactor) || record.replicationFactor < 1) {
    throw new InvalidConfigError('replicationFactor', String(record.replicationFactor), 'must be a positive integer');
  }
  if (!UUID.test(record.topicId)) throw new InvalidConfigError('topicId', record.topicId, 'must be a UUID');
  validateTopicConfigs(record.configs);
}

function parseTopicsFile(bytes: Buffer, path: string): TopicRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new KafkaStorageError(`load topics from "${path}"`, 'the file is not valid JSON', { path, cause: err });
  }
  const file = parsed as Partial<TopicsFile>;
  if (file?.version !== FILE_VERSION || !Array.isArray(file.topics)) {
    throw new KafkaStorageError(`load topics from "${path}"`, `unsupported file version "${file?.version}"`, { path });
  }
  return file.topics.map((t) => ({
    name: String(t.name),
    topicId: String(t.topicId),
    partitionCount: Number(t.partitionCount),
    replicationFactor: Number(t.replicationFactor ?? 1),
    configs: { ...(t.configs ?? {}) },
  }));
}
