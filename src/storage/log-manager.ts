import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { LogCleaner, type LogCleanerOptions } from './cleaner/log-cleaner.ts';
import { DEFAULT_LOG_CONFIG, type LogConfig, parseLogConfig } from './config.ts';
import { InvalidConfigError, KafkaStorageError, LogDirOfflineError, topicPartitionLabel } from './errors.ts';
import { nodeFs, type StorageFs } from './fs.ts';
import { Log } from './log.ts';
import {
  CLEAN_SHUTDOWN_FILE,
  deletedPartitionDirName,
  isDeletedPartitionDirName,
  isValidTopicName,
  parsePartitionDirName,
  partitionDir,
} from './names.ts';

export interface LogManagerOptions {
  dataDir: string;
  fs?: StorageFs;
  /** Broker-wide defaults under the topic keys (`segment.bytes`…), applied under every topic's overrides. */
  defaults?: Readonly<Record<string, string>>;
  /** Per-topic overrides known at start (from the TopicStore). */
  topicConfigs?: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Retention pass interval (Kafka's log.retention.check.interval.ms, default 5 minutes); 0 disables the timer. */
  retentionCheckIntervalMs?: number;
  /** How many partitions are opened at once on start. */
  openConcurrency?: number;
  clock?: () => number;
  /** Called once if the data directory goes offline (a failed fsync in any log). */
  onOffline?: (error: LogDirOfflineError) => void;
  /**
   * The log cleaner that compacts logs with cleanup.policy=compact (Kafka's
   * log.cleaner.enable and log.cleaner.* settings). Enabled by default; `enabled: false`
   * keeps it stopped (its runOnce() and clean() still work, for tests and tools).
   */
  cleaner?: LogManagerCleanerOptions;
}

export type LogManagerCleanerOptions = { enabled?: boolean } & Omit<
  LogCleanerOptions,
  'dataDir' | 'fs' | 'clock' | 'logs'
>;

/**
 * The registry of partition logs of one data directory. It opens every partition
 * directory on start (in parallel, trusting indexes when the previous shutdown was clean),
 * creates and deletes logs, holds per-topic configs and pushes changes to the logs, runs
 * retention on an unref'd timer, owns the log cleaner (compaction: cleaner/log-cleaner.ts),
 * and on close flushes everything and writes the clean-shutdown marker.
 *
 * The marker is removed (durably) on open before any log can be written, so its presence
 * always means "nothing was written after the last clean close".
 *
 * One failed fsync in any log takes the whole directory offline, as Kafka does with a
 * failed log dir: the disk is suspect, and every log on it answers KAFKA_STORAGE_ERROR
 * until a restart runs recovery.
 */
export class LogManager {
  readonly dataDir: string;
  readonly #fs: StorageFs;
  readonly #clock: () => number;
  readonly #logs = new Map<string, Log>();
  /** Opening or creating logs, so concurrent createLog calls for one partition share the work. */
  readonly #pending = new Map<string, Promise<Log>>();
  readonly #topicOverrides = new Map<string, Readonly<Record<string, string>>>();
  readonly #backgroundDeletes = new Set<Promise<void>>();
  readonly #onOffline: ((error: LogDirOfflineError) => void) | undefined;
  #defaults: LogConfig;
  #retentionTimer: NodeJS.Timeout | null = null;
  #retentionRunning: Promise<void> | null = null;
  #cleaner: LogCleaner | null = null;
  #offline: LogDirOfflineError | null = null;
  #closed = false;
  /** Whether the previous run ended with a clean close (indexes were trusted on open). */
  readonly hadCleanShutdown: boolean;

  private constructor(opts: LogManagerOptions, fsys: StorageFs, hadCleanShutdown: boolean) {
    this.dataDir = opts.dataDir;
    this.#fs = fsys;
    this.#clock = opts.clock ?? Date.now;
    this.#onOffline = opts.onOffline;
    this.#defaults = parseLogConfig(opts.defaults ?? {}, DEFAULT_LOG_CONFIG);
    for (const [topic, overrides] of opts.topicConfigs ?? []) this.#topicOverrides.set(topic, overrides);
    this.hadCleanShutdown = hadCleanShutdown;
  }

  static async open(opts: LogManagerOptions): Promise<LogManager> {
    const fsys = opts.fs ?? nodeFs;
    const dataDir = opts.dataDir;
    let names: string[];
    let hadCleanShutdown: boolean;
    try {
      await fsys.mkdir(dataDir);
      names = await fsys.readdir(dataDir);
      hadCleanShutdown = names.includes(CLEAN_SHUTDOWN_FILE);
    } catch (err) {
      throw KafkaStorageError.fromIo(`open data directory "${dataDir}"`, err);
    }
    const manager = new LogManager(opts, fsys, hadCleanShutdown);
    const partitions: { topic: string; partition: number }[] = [];
    for (const name of names) {
      const parsed = parsePartitionDirName(name);
      if (parsed !== null) partitions.push(parsed);
      else if (isDeletedPartitionDirName(name)) manager.#removeInBackground(join(dataDir, name));
    }
    try {
      await forEachLimit(partitions, opts.openConcurrency ?? 64, async ({ topic, partition }) => {
        const log = await manager.#openLog(topic, partition, hadCleanShutdown);
        manager.#logs.set(topicPartitionLabel(topic, partition), log);
      });
      if (hadCleanShutdown) {
        await fsys.unlink(join(dataDir, CLEAN_SHUTDOWN_FILE));
        await fsys.syncDir(dataDir);
      }
    } catch (err) {
      await Promise.all([...manager.#logs.values()].map((log) => log.close().catch(() => {})));
      throw err instanceof KafkaStorageError ? err : KafkaStorageError.fromIo(`open data directory "${dataDir}"`, err);
    }
    try {
      const { enabled = true, ...cleanerOptions } = opts.cleaner ?? {};
      manager.#cleaner = await LogCleaner.open({
        ...cleanerOptions,
        dataDir,
        fs: fsys,
        clock: manager.#clock,
        logs: () => manager.allLogs(),
      });
      if (enabled) manager.#cleaner.start();
    } catch (err) {
      await Promise.all([...manager.#logs.values()].map((log) => log.close().catch(() => {})));
      throw err;
    }
    const interval = opts.retentionCheckIntervalMs ?? 300_000;
    if (interval > 0) {
      manager.#retentionTimer = setInterval(() => {
        manager.runRetention().catch(() => {});
      }, interval);
      manager.#retentionTimer.unref();
    }
    return manager;
  }

  get isOffline(): boolean {
    return this.#offline !== null;
  }

  /** The log cleaner of this data directory. */
  get cleaner(): LogCleaner {
    return this.#cleaner!;
  }

  /** The effective config of a topic: built-in defaults, broker defaults, topic overrides. */
  configFor(topic: string): LogConfig {
    const overrides = this.#topicOverrides.get(topic);
    return overrides === undefined ? this.#defaults : parseLogConfig(overrides, this.#defaults);
  }

  /** The overrides of a topic, as set (Kafka key → string value). */
  topicOverrides(topic: string): Readonly<Record<string, string>> {
    return this.#topicOverrides.get(topic) ?? {};
  }

  /**
   * Replaces a topic's overrides and applies them to its open logs at once. Throws
   * InvalidConfigError (changing nothing) when any value is bad. Persisting them is the
   * caller's job (TopicStore).
   */
  setTopicConfig(topic: string, overrides: Readonly<Record<string, string>>): LogConfig {
    const config = parseLogConfig(overrides, this.#defaults);
    this.#topicOverrides.set(topic, { ...overrides });
    for (const log of this.#logs.values()) if (log.topic === topic) log.updateConfig(config);
    return config;
  }

  getLog(topic: string, partition: number): Log | undefined {
    return this.#logs.get(topicPartitionLabel(topic, partition));
  }

  /** All open logs. */
  allLogs(): Log[] {
    return [...this.#logs.values()];
  }

  logsOfTopic(topic: string): Log[] {
    return this.allLogs().filter((log) => log.topic === topic);
  }

  /** Opens the log of a partition, creating its directory if needed. Idempotent. */
  async getOrCreateLog(topic: string, partition: number): Promise<Log> {
    const key = topicPartitionLabel(topic, partition);
    const existing = this.#logs.get(key) ?? this.#pending.get(key);
    if (existing !== undefined) return existing;
    const operation = `create log "${key}"`;
    if (this.#offline !== null) throw new LogDirOfflineError(operation, this.dataDir, this.#offline.cause);
    if (this.#closed) throw new KafkaStorageError(operation, 'the log manager is closed');
    if (!isValidTopicName(topic) || !Number.isInteger(partition) || partition < 0) {
      throw new InvalidConfigError('topic', key, 'not a valid topic name and partition');
    }
    const opening = (async () => {
      try {
        // A new partition directory must survive a crash before anything is acknowledged in it.
        const log = await this.#openLog(topic, partition, false);
        await this.#fs.syncDir(this.dataDir);
        this.#logs.set(key, log);
        return log;
      } catch (err) {
        throw err instanceof KafkaStorageError ? err : KafkaStorageError.fromIo(operation, err);
      } finally {
        this.#pending.delete(key);
      }
    })();
    this.#pending.set(key, opening);
    return opening;
  }

  #openLog(topic: string, partition: number, hadCleanShutdown: boolean): Promise<Log> {
    return Log.open({
      dir: partitionDir(this.dataDir, topic, partition),
      topic,
      partition,
      config: this.configFor(topic),
      fs: this.#fs,
      hadCleanShutdown,
      clock: this.#clock,
      onOffline: (_log, error) => this.#goOffline(error),
      onTruncate: (log, endOffset) => this.#cleaner?.truncated(log, endOffset),
    });
  }

  /**
   * Deletes a partition's log the Kafka way: out of the registry, closed (queued appends
   * finish first), its directory renamed to `<topic>-<partition>.<id>.deleted` (durable
   * with a directory fsync), then removed in the background. A crash before the removal
   * finishes leaves the renamed directory, which the next open removes.
   */
  async deleteLog(topic: string, partition: number): Promise<boolean> {
    const key = topicPartitionLabel(topic, partition);
    await this.#pending.get(key)?.catch(() => {});
    const log = this.#logs.get(key);
    if (log === undefined) return false;
    this.#logs.delete(key);
    await this.#cleaner?.forget(log);
    await log.close().catch(() => {});
    const target = join(this.dataDir, deletedPartitionDirName(topic, partition, randomBytes(4).toString('hex')));
    try {
      await this.#fs.rename(log.dir, target);
      await this.#fs.syncDir(this.dataDir);
    } catch (err) {
      throw KafkaStorageError.fromIo(`delete log "${key}"`, err);
    }
    this.#removeInBackground(target);
    return true;
  }

  /** Deletes every partition log of a topic and forgets its config. */
  async deleteTopicLogs(topic: string): Promise<number> {
    const logs = this.logsOfTopic(topic);
    await Promise.all(logs.map((log) => this.deleteLog(log.topic, log.partition)));
    this.#topicOverrides.delete(topic);
    return logs.length;
  }

  #removeInBackground(path: string): void {
    const task = this.#fs
      .removeTree(path)
      .catch(() => {})
      .finally(() => this.#backgroundDeletes.delete(task));
    this.#backgroundDeletes.add(task);
  }

  /** Resolves when every background directory removal started so far has finished. */
  async backgroundDeletesSettled(): Promise<void> {
    await Promise.all([...this.#backgroundDeletes]);
  }

  /**
   * One retention pass over every log (also what the timer runs). Passes do not overlap;
   * a log that fails is skipped and the others go on.
   */
  runRetention(): Promise<void> {
    this.#retentionRunning ??= (async () => {
      try {
        await forEachLimit(this.allLogs(), 8, async (log) => {
          if (log.isClosed || log.isOffline) return;
          await log.deleteOldSegments().catch(() => {});
        });
      } finally {
        this.#retentionRunning = null;
      }
    })();
    return this.#retentionRunning;
  }

  #goOffline(error: LogDirOfflineError): void {
    if (this.#offline !== null) return;
    this.#offline = new LogDirOfflineError('use the data directory', this.dataDir, error.cause);
    for (const log of this.#logs.values()) log.markOffline(error.cause);
    this.#onOffline?.(this.#offline);
  }

  /**
   * Stops the retention timer and the cleaner (a round under way stops at its next step),
   * closes every log (each fsyncs and writes its index files)
   * and, if all of that worked and the directory is online, writes the clean-shutdown
   * marker so the next open can skip recovery.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retentionTimer !== null) clearInterval(this.#retentionTimer);
    await this.#cleaner?.stop();
    await this.#retentionRunning;
    await Promise.all([...this.#pending.values()].map((p) => p.catch(() => {})));
    const results = await Promise.allSettled([...this.#logs.values()].map((log) => log.close()));
    await this.backgroundDeletesSettled();
    if (this.#offline !== null || results.some((r) => r.status === 'rejected')) return;
    try {
      const marker = await this.#fs.open(join(this.dataDir, CLEAN_SHUTDOWN_FILE), 'create');
      await marker.datasync();
      await marker.close();
      await this.#fs.syncDir(this.dataDir);
    } catch (err) {
      throw KafkaStorageError.fromIo(`close data directory "${this.dataDir}"`, err);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first error after all settle. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown = null;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== null) throw firstError;
}
