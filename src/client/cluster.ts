import { ZERO_UUID } from '../protocol/codec.ts';
import { ErrorCode } from '../protocol/generated/error-codes.ts';
import { FindCoordinatorRequest, FindCoordinatorResponse } from '../protocol/generated/messages/find-coordinator.ts';
import {
  MetadataRequest,
  MetadataResponse,
  type MetadataResponse as MetadataResponseMessage,
} from '../protocol/generated/messages/metadata.ts';
import { defineApi } from './api.ts';
import { backoffDelay, sleep } from './backoff.ts';
import { Connection } from './connection.ts';
import {
  ClientClosedError,
  ConnectionError,
  isRetriable,
  KafkaError,
  KafkaTimeoutError,
  needsCoordinatorLookup,
  needsMetadataRefresh,
} from './errors.ts';
import { type BrokerInfo, MetadataCache, type TopicMetadata } from './metadata.ts';
import { type BrokerAddress, type ClientLogger, type ClientOptions, makeLogger, parseBootstrap } from './options.ts';

export const MetadataApi = defineApi(MetadataRequest, MetadataResponse, { min: 1, max: 12 });
export const FindCoordinatorApi = defineApi(FindCoordinatorRequest, FindCoordinatorResponse, { min: 0, max: 6 });

export const CoordinatorType = { GROUP: 0, TRANSACTION: 1 } as const;
export type CoordinatorType = (typeof CoordinatorType)[keyof typeof CoordinatorType];

/**
 * Which connection to a broker a request uses. Group and transaction coordinator traffic
 * gets its own, as in the Java client, so a long-polling Fetch on the broker's data
 * connection never delays a heartbeat behind it.
 */
export type ConnectionPurpose = 'data' | 'coordinator';

export interface RetryOptions {
  /** Total time for all attempts; default the client's defaultApiTimeoutMs. */
  timeoutMs?: number;
  maxAttempts?: number;
  /** Called before each retry with the error that caused it. */
  onRetry?: (err: unknown, attempt: number) => void | Promise<void>;
}

/**
 * The cluster as one client sees it: connections (one per broker and purpose, reconnected
 * with backoff), the metadata cache and its refreshes, coordinator lookups and the retry
 * loop every operation uses.
 */
export class Cluster {
  readonly metadata = new MetadataCache();
  readonly logger: ClientLogger;
  readonly clientId: string;
  readonly #options: ClientOptions;
  readonly #bootstrap: BrokerAddress[];
  readonly #connections = new Map<string, Connection>();
  readonly #connecting = new Map<string, Promise<Connection>>();
  readonly #failures = new Map<string, { count: number; until: number }>();
  readonly #topics = new Set<string>();
  readonly #coordinators = new Map<string, number>();
  /** Addresses learned from FindCoordinator for brokers metadata did not list (yet). */
  readonly #extraBrokers = new Map<number, BrokerAddress>();
  readonly #allowAutoTopicCreation: boolean;
  #refreshing: Promise<void> | null = null;
  #refreshAgain = false;
  #closed = false;
  readonly #closing = new AbortController();

  constructor(options: ClientOptions, settings: { allowAutoTopicCreation?: boolean } = {}) {
    this.#options = options;
    this.#bootstrap = parseBootstrap(options.bootstrap);
    this.logger = makeLogger(options.logger);
    this.clientId = options.clientId ?? 'tributary';
    this.#allowAutoTopicCreation = settings.allowAutoTopicCreation ?? false;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Aborted when the cluster closes; waits use it to stop early. */
  get closingSignal(): AbortSignal {
    return this.#closing.signal;
  }

  get retryBackoff() {
    return { initialMs: this.#options.retryBackoffMs ?? 100, maxMs: this.#options.retryBackoffMaxMs ?? 1000 };
  }

  get defaultApiTimeoutMs(): number {
    return this.#options.defaultApiTimeoutMs ?? 60_000;
  }

  get requestTimeoutMs(): number {
    return this.#options.requestTimeoutMs ?? 30_000;
  }

  /** Topics whose metadata every refresh brings (the producer's and consumer's topics). */
  get topics(): ReadonlySet<string> {
    return this.#topics;
  }

  addTopics(topics: Iterable<string>): boolean {
    let added = false;
    for (const t of topics) {
      if (!this.#topics.has(t)) {
        this.#topics.add(t);
        added = true;
      }
    }
    return added;
  }

  /** Connects to a bootstrap broker and loads metadata of the tracked topics. */
  async connect(): Promise<void> {
    await this.refreshMetadata();
  }

  // ------------------------------------------------------------------ connections

  /** The connection to a broker by id, opened (or reopened, after backoff) as needed. */
  async connection(nodeId: number, purpose: ConnectionPurpose = 'data'): Promise<Connection> {
    let address: BrokerAddress | undefined = this.metadata.brokers.get(nodeId) ?? this.#extraBrokers.get(nodeId);
    if (address === undefined) {
      await this.refreshMetadata();
      address = this.metadata.brokers.get(nodeId) ?? this.#extraBrokers.get(nodeId);
    }
    if (address === undefined) {
      throw new KafkaError(`Cannot connect to broker ${nodeId}: the cluster metadata does not list it`, {
        code: 'BROKER_NOT_AVAILABLE',
        errorCode: ErrorCode.BROKER_NOT_AVAILABLE,
        retriable: true,
      });
    }
    return this.#open(`${purpose}:${nodeId}`, address, nodeId);
  }

  /** Any connection that works: an open one if there is one, else a known broker, else a bootstrap address. */
  async anyConnection(): Promise<Connection> {
    for (const c of this.#connections.values()) if (!c.closed) return c;
    const candidates: Array<{ key: string; address: BrokerAddress; nodeId: number }> = [];
    for (const b of shuffle([...this.metadata.brokers.values()])) {
      candidates.push({ key: `data:${b.nodeId}`, address: b, nodeId: b.nodeId });
    }
    for (const a of shuffle([...this.#bootstrap])) {
      candidates.push({ key: `bootstrap:${a.host}:${a.port}`, address: a, nodeId: -1 });
    }
    let last: unknown;
    for (const c of candidates) {
      try {
        return await this.#open(c.key, c.address, c.nodeId);
      } catch (err) {
        last = err;
        if (!(err instanceof ConnectionError)) throw err;
      }
    }
    const where = this.#bootstrap.map((a) => `${a.host}:${a.port}`).join(', ');
    throw new ConnectionError(`Cannot connect to any broker (bootstrap ${where})`, last);
  }

  async #open(key: string, address: BrokerAddress, nodeId: number): Promise<Connection> {
    if (this.#closed) throw new ClientClosedError('client');
    const existing = this.#connections.get(key);
    if (existing && !existing.closed) return existing;
    const pending = this.#connecting.get(key);
    if (pending) return pending;
    const attempt = (async () => {
      const failure = this.#failures.get(key);
      if (failure && failure.until > Date.now()) await sleep(failure.until - Date.now(), this.#closing.signal);
      if (this.#closed) throw new ClientClosedError('client');
      try {
        const connection = await Connection.connect({
          host: address.host,
          port: address.port,
          nodeId,
          clientId: this.clientId,
          connectTimeoutMs: this.#options.connectTimeoutMs,
          requestTimeoutMs: this.#options.requestTimeoutMs,
        });
        this.#failures.delete(key);
        if (this.#closed) {
          connection.close();
          throw new ClientClosedError('client');
        }
        this.#connections.set(key, connection);
        connection.onClose(() => {
          if (this.#connections.get(key) === connection) this.#connections.delete(key);
        });
        return connection;
      } catch (err) {
        const count = (this.#failures.get(key)?.count ?? 0) + 1;
        const delay = backoffDelay(count - 1, {
          initialMs: this.#options.reconnectBackoffMs ?? 50,
          maxMs: this.#options.reconnectBackoffMaxMs ?? 1000,
        });
        this.#failures.set(key, { count, until: Date.now() + delay });
        throw err;
      } finally {
        this.#connecting.delete(key);
      }
    })();
    this.#connecting.set(key, attempt);
    return attempt;
  }

  // ------------------------------------------------------------------ metadata

  /**
   * Sends one Metadata request and applies it to the cache. `topics` null asks for every
   * topic, an empty list for brokers only.
   */
  async fetchMetadata(
    topics: readonly string[] | null,
    options: { allowAutoTopicCreation?: boolean } = {},
  ): Promise<MetadataResponseMessage> {
    const connection = await this.anyConnection();
    const response = await connection.send(MetadataApi, {
      topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
      allowAutoTopicCreation: options.allowAutoTopicCreation ?? this.#allowAutoTopicCreation,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    this.metadata.update(response, topics);
    return response;
  }

  /**
   * Refreshes metadata of the tracked topics (plus `extra`). Concurrent callers share one
   * request; one that comes while a request is out gets another after it, so topics added
   * meanwhile are included.
   */
  async refreshMetadata(extra: Iterable<string> = []): Promise<void> {
    this.addTopics(extra);
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return this.#refreshing;
    }
    const run = async () => {
      try {
        do {
          this.#refreshAgain = false;
          await this.retry('Cannot refresh metadata', () => this.fetchMetadata([...this.#topics]), {
            timeoutMs: this.requestTimeoutMs,
          });
        } while (this.#refreshAgain);
      } finally {
        this.#refreshing = null;
      }
    };
    this.#refreshing = run();
    return this.#refreshing;
  }

  /** Refreshes when metadata is older than metadata.max.age.ms. */
  async maybeRefreshMetadata(): Promise<void> {
    if (Date.now() - this.metadata.lastRefresh > (this.#options.metadataMaxAgeMs ?? 300_000)) {
      await this.refreshMetadata();
    }
  }

  /**
   * Metadata of a topic whose partitions all have leaders, refreshing (and letting the broker
   * auto-create it, where the client allows that) until it does or the time is up.
   */
  async topicMetadata(topic: string, timeoutMs = this.defaultApiTimeoutMs): Promise<TopicMetadata> {
    this.addTopics([topic]);
    const deadline = Date.now() + timeoutMs;
    let attempt = 0;
    for (;;) {
      const known = this.metadata.topics.get(topic);
      if (known && known.partitions.length > 0 && known.partitions.every((p) => p.leader >= 0)) return known;
      if (known && known.errorCode !== ErrorCode.NONE && !isRetriableCode(known.errorCode)) {
        throw KafkaError.fromCode(known.errorCode, `Cannot get metadata of topic "${topic}"`);
      }
      if (attempt > 0) {
        if (Date.now() >= deadline) {
          if (known && known.partitions.length > 0) return known;
          throw new KafkaTimeoutError(`Topic "${topic}" not present in metadata after ${timeoutMs} ms`);
        }
        await sleep(Math.min(backoffDelay(attempt - 1, this.retryBackoff), Math.max(0, deadline - Date.now())));
      }
      if (this.#closed) throw new ClientClosedError('client');
      attempt++;
      await this.refreshMetadata();
    }
  }

  /** The broker info of a node from metadata, if known. */
  broker(nodeId: number): BrokerInfo | undefined {
    return this.metadata.brokers.get(nodeId);
  }

  // ------------------------------------------------------------------ coordinators

  /** The connection to the coordinator of a group or transactional id, looked up as needed. */
  async coordinator(type: CoordinatorType, key: string): Promise<Connection> {
    const cacheKey = `${type}:${key}`;
    let nodeId = this.#coordinators.get(cacheKey);
    if (nodeId === undefined) {
      nodeId = await this.#findCoordinator(type, key);
      this.#coordinators.set(cacheKey, nodeId);
    }
    try {
      return await this.connection(nodeId, 'coordinator');
    } catch (err) {
      this.#coordinators.delete(cacheKey);
      throw err;
    }
  }

  forgetCoordinator(type: CoordinatorType, key: string): void {
    this.#coordinators.delete(`${type}:${key}`);
  }

  async #findCoordinator(type: CoordinatorType, key: string): Promise<number> {
    const what = type === CoordinatorType.GROUP ? 'group' : 'transactional id';
    const operation = `Cannot find the coordinator of ${what} "${key}"`;
    return this.retry(operation, async () => {
      const connection = await this.anyConnection();
      const version = connection.versionFor(FindCoordinatorApi);
      if (type !== CoordinatorType.GROUP && version === 0) {
        throw new KafkaError(`${operation}: ${connection.label} serves FindCoordinator v0 only`, {
          code: 'UNSUPPORTED_VERSION',
          errorCode: ErrorCode.UNSUPPORTED_VERSION,
        });
      }
      const batched = version >= 4;
      const response = await connection.send(
        FindCoordinatorApi,
        batched ? { key: '', keyType: type, coordinatorKeys: [key] } : { key, keyType: type, coordinatorKeys: [] },
        { version },
      );
      const found = batched ? response.coordinators.find((c) => c.key === key) : response;
      if (found === undefined) {
        throw new KafkaError(`${operation}: the response does not mention it`, { code: 'INVALID_RESPONSE' });
      }
      if (found.errorCode !== ErrorCode.NONE) {
        throw KafkaError.fromCode(found.errorCode, operation, found.errorMessage);
      }
      if (!this.metadata.brokers.has(found.nodeId)) {
        this.#extraBrokers.set(found.nodeId, { host: found.host, port: found.port });
      }
      return found.nodeId;
    });
  }

  // ------------------------------------------------------------------ retries

  /**
   * Runs an operation until it succeeds, fails with an error that is not retriable, or the
   * time is up; between attempts it backs off and refreshes what the error says is stale.
   */
  async retry<T>(operation: string, fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
    const deadline = Date.now() + (options.timeoutMs ?? this.defaultApiTimeoutMs);
    const maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new ClientClosedError('client');
      try {
        return await fn(attempt);
      } catch (err) {
        if (!isRetriable(err) || attempt + 1 >= maxAttempts || this.#closed) throw err;
        const delay = backoffDelay(attempt, this.retryBackoff);
        if (Date.now() + delay > deadline) {
          if (err instanceof KafkaError) throw err;
          throw new KafkaTimeoutError(`${operation}: gave up after ${attempt + 1} attempts`, err);
        }
        this.logger.debug(`${operation}; retrying`, { attempt, error: (err as Error).message });
        if (err instanceof KafkaError && err.errorCode !== null && needsMetadataRefresh(err.errorCode)) {
          // Refreshing is itself retried; an error here is the next attempt's to report.
          this.refreshMetadata().catch(() => {});
        }
        await options.onRetry?.(err, attempt);
        await sleep(delay, this.#closing.signal);
      }
    }
  }

  /** Marks a coordinator stale when an error says it moved. */
  onCoordinatorError(type: CoordinatorType, key: string, errorCode: number): void {
    if (needsCoordinatorLookup(errorCode)) this.forgetCoordinator(type, key);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    for (const c of this.#connections.values()) c.close();
    this.#connections.clear();
    await Promise.allSettled([...this.#connecting.values()]);
  }
}

function isRetriableCode(errorCode: number): boolean {
  return KafkaError.fromCode(errorCode, '').retriable;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
