import { OFFSET_MAP_BYTES_PER_KEY } from '../storage/cleaner/offset-map.ts';
import { nodeFs, type StorageFs } from '../storage/fs.ts';
import { LogManager } from '../storage/log-manager.ts';
import { TopicStore } from '../storage/topic-store.ts';
import { BrokerConfig } from './config.ts';
import { GroupCoordinator } from './group/coordinator.ts';
import { allHandlers } from './handlers/index.ts';
import { createLogger, type Logger } from './logger.ts';
import { loadOrCreateMetaProperties } from './meta-properties.ts';
import { SocketServer } from './net/server.ts';
import { Router } from './router.ts';
import { FetchSessionCache } from './services/fetch-sessions.ts';
import { ReplicaManager } from './services/replica-manager.ts';
import { TopicManager } from './services/topic-manager.ts';
import type { BrokerServices } from './services.ts';
import { TransactionCoordinator } from './txn/coordinator.ts';
import { ProducerIdManager } from './txn/producer-id-manager.ts';

export interface BrokerOptions {
  config?: BrokerConfig;
  logger?: Logger;
  fs?: StorageFs;
}

/** How long close() lets in-flight requests finish before it drops their connections. */
const DRAIN_TIMEOUT_MS = 5_000;
/** Request bytes a connection may have in flight before reading from it pauses. */
const MAX_IN_FLIGHT_BYTES_PER_CONNECTION = 64 * 1024 * 1024;
/** How long the bytes of one request may take to arrive. */
const REQUEST_TIMEOUT_MS = 30_000;

/** A single-node broker: storage, services, handlers and the socket server, started and stopped as one. */
export class Broker {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly services: BrokerServices;
  readonly #server: SocketServer;
  readonly #logs: LogManager;
  #inFlight = 0;
  #drained: (() => void) | null = null;
  #closing: Promise<void> | null = null;
  /** The address the socket listens on. */
  address = { host: '', port: 0 };

  private constructor(config: BrokerConfig, logger: Logger, services: BrokerServices, logs: LogManager) {
    this.config = config;
    this.logger = logger;
    this.services = services;
    this.#logs = logs;
    const { host, port } = config.listener;
    this.#server = new SocketServer({
      host,
      port,
      logger,
      maxConnections: Number(config.get('max.connections') ?? 2147483647),
      maxConnectionsPerIp: Number(config.get('max.connections.per.ip') ?? 2147483647),
      limits: {
        maxRequestSize: config.int('socket.request.max.bytes'),
        maxInFlightBytes: Number(config.get('socket.max.in.flight.bytes') ?? MAX_IN_FLIGHT_BYTES_PER_CONNECTION),
        idleTimeoutMs: config.int('connections.max.idle.ms'),
        requestTimeoutMs: Number(config.get('request.timeout.ms') ?? REQUEST_TIMEOUT_MS),
      },
      handle: async (frame, connection) => {
        this.#inFlight++;
        try {
          const outcome = await services.router.handle(frame, connection);
          // Large Fetch records go out by reference, and may be views of pooled read
          // buffers: those are reused once the socket has the bytes.
          if ('response' in outcome && Array.isArray(outcome.response)) {
            const chunks = outcome.response;
            const pool = services.replicas.readBuffers;
            const written = () => {
              for (const chunk of chunks) pool.release(chunk);
            };
            return { response: chunks, written };
          }
          return outcome;
        } finally {
          if (--this.#inFlight === 0) this.#drained?.();
        }
      },
    });
  }

  static async start(options: BrokerOptions = {}): Promise<Broker> {
    const config = options.config ?? new BrokerConfig();
    const logger = options.logger ?? createLogger();
    const dataDir = config.get('log.dirs')!.split(',')[0]!.trim();
    const meta = await loadOrCreateMetaProperties(dataDir, config.nodeId, options.fs);
    const store = await TopicStore.open({ dataDir, fs: options.fs });
    const logs = await LogManager.open({
      dataDir,
      fs: options.fs,
      defaults: config.topicDefaults(),
      topicConfigs: new Map(store.list().map((t) => [t.name, t.configs])),
      retentionCheckIntervalMs: config.int('log.retention.check.interval.ms'),
      cleaner: {
        enabled: config.bool('log.cleaner.enable'),
        backoffMs: config.int('log.cleaner.backoff.ms'),
        dedupeEntries: Math.max(1, Math.floor(config.int('log.cleaner.dedupe.buffer.size') / OFFSET_MAP_BYTES_PER_KEY)),
        onEvent: (event) => {
          if (event.kind !== 'done') return;
          const s = event.stats;
          logger.info(
            {
              partition: event.label,
              upTo: String(s.endOffset),
              segments: `${s.segmentsBefore} -> ${s.segmentsAfter}`,
              bytes: `${s.bytesRead} -> ${s.bytesWritten}`,
              records: `${s.recordsRead} -> ${s.recordsRetained}`,
            },
            'Cleaned log',
          );
        },
        onError: (log, err) =>
          logger.error({ partition: log.label, err: (err as Error)?.message ?? String(err) }, 'Log cleaning failed'),
      },
      onOffline: (err) =>
        logger.error({ err: err.message }, 'Data directory went offline: failing every request for it'),
    });
    const router = new Router(logger);
    const topics = new TopicManager(store, logs, config);
    const groups = new GroupCoordinator({ config, logger, topics, logs });
    const replicas = new ReplicaManager({ topics, logs, config, nodeId: meta.nodeId });
    let transactions: TransactionCoordinator;
    try {
      // Group state is read back before the first request can see it.
      await groups.load();
      // Then transactions, whose completion may commit offsets the groups hold pending.
      const producerIds = await ProducerIdManager.open(options.fs ?? nodeFs, dataDir);
      transactions = new TransactionCoordinator({ config, logger, topics, logs, replicas, groups, producerIds });
      await transactions.load();
    } catch (err) {
      await groups.close();
      await logs.close();
      throw err;
    }
    const services: BrokerServices = {
      config,
      logger,
      clusterId: meta.clusterId,
      nodeId: meta.nodeId,
      advertised: { host: '127.0.0.1', port: 0 },
      router,
      topics,
      logs,
      replicas,
      fetchSessions: new FetchSessionCache({
        maxSessions: Number(config.get('max.incremental.fetch.session.cache.slots') ?? 1000),
        resolveTopicId: (id) => topics.getById(id)?.name,
      }),
      groups,
      transactions,
    };
    for (const handler of allHandlers(services)) router.register(handler);
    const broker = new Broker(config, logger, services, logs);
    try {
      broker.address = await broker.#server.listen();
    } catch (err) {
      await transactions.close();
      await groups.close();
      await logs.close();
      throw err;
    }
    const advertised = config.advertisedListener ?? {
      host: broker.address.host === '0.0.0.0' || broker.address.host === '::' ? '127.0.0.1' : broker.address.host,
      port: broker.address.port,
    };
    Object.assign(services.advertised, advertised);
    return broker;
  }

  /** `host:port` for a client's bootstrap servers. */
  get bootstrap(): string {
    return `${this.services.advertised.host}:${this.services.advertised.port}`;
  }

  /** Stops accepting, lets in-flight requests finish, closes connections, flushes and closes the logs. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const stopped = this.#server.stopAccepting();
      // Long-poll fetches answer now with what they have, rather than holding up the drain.
      this.services.replicas.shutdown();
      // Waiting JoinGroup/SyncGroup calls are answered and group timers cleared.
      this.services.groups.beginShutdown();
      this.services.transactions.beginShutdown();
      if (this.#inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
          this.#drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      // Responses are written in a promise callback that runs after the drain resolves: let them out first.
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.#server.closeConnections();
      await stopped;
      await this.services.transactions.close();
      await this.services.groups.close();
      await this.#logs.close();
    })();
    return this.#closing;
  }
}
