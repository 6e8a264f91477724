import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  ProduceRequest,
  ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
} from '../../protocol/generated/messages/produce.ts';
import { CompressionCodec } from '../../protocol/records/batch-header.ts';
import type { RecordHeader } from '../../protocol/records/record.ts';
import { createRecordBatch, encodeRecordBatch } from '../../protocol/records/record-batch.ts';
import { defineApi } from '../api.ts';
import { backoffDelay, sleep, within } from '../backoff.ts';
import { Cluster } from '../cluster.ts';
import { ClientClosedError, ConnectionError, KafkaError, KafkaTimeoutError, needsMetadataRefresh } from '../errors.ts';
import { type TopicPartition, tpKey } from '../metadata.ts';
import type { ClientOptions } from '../options.ts';
import { DefaultPartitioner, type Partitioner } from '../partitioner.ts';
import { type Serializer, serializers } from '../serializers.ts';
import { RecordAccumulator } from './accumulator.ts';
import { estimateRecordSize, type PendingRecord, type ProducerBatch, type RecordMetadata } from './batch.ts';
import { BufferPool } from './buffer-pool.ts';
import { type ConsumerGroupMetadata, TransactionManager, type TransactionState } from './transaction-manager.ts';

/** v3 is the first with record batches (magic 2); v7 the first that allows zstd. */
export const ProduceApi = defineApi(ProduceRequest, ProduceResponse, { min: 3, max: 11 });

export type CompressionType = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
const CODECS: Record<CompressionType, CompressionCodec> = {
  none: CompressionCodec.None,
  gzip: CompressionCodec.Gzip,
  snappy: CompressionCodec.Snappy,
  lz4: CompressionCodec.Lz4,
  zstd: CompressionCodec.Zstd,
};
const ZSTD_MIN_PRODUCE_VERSION = 7;

export type Acks = 0 | 1 | -1 | 'all';

export type RecordHeadersInput =
  | Readonly<Record<string, string | Uint8Array | null>>
  | ReadonlyArray<{ key: string; value: string | Uint8Array | null }>;

export interface ProducerRecord<K, V> {
  topic: string;
  key?: K | null;
  value: V | null;
  /** Chosen by the partitioner when omitted. */
  partition?: number;
  headers?: RecordHeadersInput;
  /** CreateTime in ms since the epoch (number, bigint or Date); now by default. */
  timestamp?: number | bigint | Date;
}

export interface ProducerOptions<K, V> extends ClientOptions {
  /** 0: no response; 1: the leader wrote it; −1/'all' (default): all in-sync replicas did. */
  acks?: Acks;
  compression?: CompressionType;
  compressionLevel?: number;
  /** How long a batch waits for more records before it is sent; default 5 ms (Kafka 4.0). */
  lingerMs?: number;
  /** Bytes per partition batch; default 16 KiB. */
  batchSize?: number;
  /** Bytes of records buffered before send waits for acknowledgements; default 32 MiB. */
  bufferMemory?: number;
  /** How long send may wait for buffer space or metadata; default 60 s. */
  maxBlockMs?: number;
  /** Produce requests in flight per broker; default 5. */
  maxInFlightRequestsPerConnection?: number;
  /** Largest Produce request; default 1 MiB. */
  maxRequestSize?: number;
  /** Time from send to success or failure, retries included; default 120 s. */
  deliveryTimeoutMs?: number;
  /** Attempts after the first for a batch; default unlimited within deliveryTimeoutMs. */
  retries?: number;
  /**
   * Exactly-once per partition (producer id and sequence numbers). On by default; when the
   * broker does not serve InitProducerId the default falls back to plain sends with a
   * warning, while an explicit `true` fails instead.
   */
  idempotent?: boolean;
  transactionalId?: string;
  transactionTimeoutMs?: number;
  partitioner?: Partitioner;
  keySerializer?: Serializer<K>;
  valueSerializer?: Serializer<V>;
}

export interface IdempotenceStatus {
  enabled: boolean;
  producerId: bigint;
  producerEpoch: number;
  /** Why idempotence is off, when it is. */
  reason: string | null;
}

interface Prepared {
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  timestamp: bigint;
  size: number;
}

interface Settings {
  acks: number;
  codec: CompressionCodec;
  compressionLevel: number | undefined;
  maxBlockMs: number;
  maxInFlight: number;
  maxRequestSize: number;
  deliveryTimeoutMs: number;
  retries: number;
  requestTimeoutMs: number;
}

/**
 * A Kafka producer: records are batched per partition, compressed, sent to partition
 * leaders with up to maxInFlightRequestsPerConnection requests in flight per broker, and
 * retried on retriable errors with the same sequence numbers so that idempotence holds.
 */
export class Producer<K = string | Buffer | null, V = string | Buffer | null> {
  readonly cluster: Cluster;
  readonly #s: Settings;
  readonly #pool: BufferPool;
  readonly #accumulator: RecordAccumulator;
  readonly #partitioner: Partitioner;
  readonly #keySerializer: Serializer<K>;
  readonly #valueSerializer: Serializer<V>;
  readonly #txn: TransactionManager;
  readonly #idempotenceRequested: boolean;
  readonly #idempotenceExplicit: boolean;
  #idempotent = false;
  #idempotenceReason: string | null = null;
  #ready: Promise<void> | null = null;
  #intake: Promise<void> = Promise.resolve();
  #intakeDepth = 0;
  /** Batches handed to Produce requests and not back yet (the others are in the accumulator). */
  readonly #sending = new Set<ProducerBatch>();
  readonly #inFlightByNode = new Map<number, number>();
  readonly #inFlightByPartition = new Map<string, number>();
  /** Partitions whose sends wait until their in-flight batches are back (idempotent retries go in order). */
  readonly #recovering = new Set<string>();
  /** The sequence the broker expects next, per partition, from acknowledged batches. */
  readonly #ackedSequence = new Map<string, number>();
  #bumpEpoch = false;
  #lastExpiry = 0;
  #sender: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  /** Set by #signal, so a wake-up that comes while the loop is busy is not lost. */
  #signaled = false;
  #closing = false;
  #closed = false;

  constructor(options: ProducerOptions<K, V>) {
    this.cluster = new Cluster(options, { allowAutoTopicCreation: true });
    const acks = options.acks === 'all' || options.acks === undefined ? -1 : options.acks;
    if (![0, 1, -1].includes(acks)) throw new Error(`Invalid acks ${String(options.acks)}: use 0, 1, -1 or "all"`);
    const compression = options.compression ?? 'none';
    if (!(compression in CODECS)) throw new Error(`Invalid compression "${compression}"`);
    this.#s = {
      acks,
      codec: CODECS[compression],
      compressionLevel: options.compressionLevel,
      maxBlockMs: options.maxBlockMs ?? 60_000,
      maxInFlight: Math.max(1, options.maxInFlightRequestsPerConnection ?? 5),
      maxRequestSize: options.maxRequestSize ?? 1_048_576,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 120_000,
      retries: options.retries ?? Number.POSITIVE_INFINITY,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    };
    const batchSize = options.batchSize ?? 16_384;
    this.#pool = new BufferPool(options.bufferMemory ?? 32 * 1024 * 1024);
    this.#accumulator = new RecordAccumulator({ batchSize, lingerMs: options.lingerMs ?? 5 });
    this.#partitioner = options.partitioner ?? new DefaultPartitioner({ stickyBytes: batchSize });
    this.#keySerializer = options.keySerializer ?? (serializers.bytes as Serializer<K>);
    this.#valueSerializer = options.valueSerializer ?? (serializers.bytes as Serializer<V>);
    this.#txn = new TransactionManager(this.cluster, {
      transactionalId: options.transactionalId ?? null,
      transactionTimeoutMs: options.transactionTimeoutMs,
    });
    this.#idempotenceExplicit = options.idempotent !== undefined || options.transactionalId !== undefined;
    this.#idempotenceRequested = options.idempotent ?? true;
    if (options.transactionalId !== undefined && options.idempotent === false) {
      throw new Error('A transactional producer must be idempotent');
    }
    if (this.#idempotenceRequested && acks !== -1) {
      if (options.idempotent === true || options.transactionalId !== undefined) {
        throw new Error('Idempotence needs acks "all"');
      }
      this.#idempotenceReason = `acks=${acks}`;
    }
    if (this.#s.maxInFlight > 5 && this.#idempotenceRequested && this.#idempotenceReason === null) {
      if (this.#idempotenceExplicit) throw new Error('Idempotence allows at most 5 requests in flight per connection');
      this.#idempotenceReason = `maxInFlightRequestsPerConnection=${this.#s.maxInFlight}`;
    }
  }

  get idempotence(): IdempotenceStatus {
    return {
      enabled: this.#idempotent,
      producerId: this.#txn.producerId,
      producerEpoch: this.#txn.producerEpoch,
      reason: this.#idempotenceReason,
    };
  }

  get transactionState(): TransactionState {
    return this.#txn.state;
  }

  /** Connects and, for an idempotent producer, gets its producer id. Sends do this on their own. */
  async connect(): Promise<void> {
    this.#ready ??= this.#start();
    try {
      await this.#ready;
    } catch (err) {
      this.#ready = null;
      throw err;
    }
  }

  async #start(): Promise<void> {
    if (this.#closed) throw new ClientClosedError('producer');
    await this.cluster.connect();
    if (this.#idempotenceRequested && this.#idempotenceReason === null) {
      if (await this.#txn.brokerSupportsIdempotence()) {
        this.#idempotent = true;
        // A transactional producer gets its id from initTransactions().
        if (!this.#txn.isTransactional) await this.#txn.initProducerId();
      } else {
        const why = 'the broker does not serve InitProducerId';
        if (this.#idempotenceExplicit) {
          throw new KafkaError(`Cannot enable idempotence: ${why}`, {
            code: 'UNSUPPORTED_VERSION',
            errorCode: ErrorCode.UNSUPPORTED_VERSION,
          });
        }
        this.#idempotenceReason = why;
        this.cluster.logger.warn(
          `Idempotence is off: ${why}; a retried send may write a record twice (set idempotent: false to silence this)`,
        );
      }
    }
    this.#sender ??= this.#runSender();
  }

  /** Sends one record and resolves once the broker acknowledged it (or rejects when it failed for good). */
  async send(record: ProducerRecord<K, V>): Promise<RecordMetadata> {
    const { delivery } = await this.enqueue(record);
    return delivery;
  }

  /** Sends records (in order per partition) and resolves when all are acknowledged. */
  async sendBatch(records: ReadonlyArray<ProducerRecord<K, V>>): Promise<RecordMetadata[]> {
    const deliveries: Array<Promise<RecordMetadata>> = [];
    for (const r of records) deliveries.push((await this.enqueue(r)).delivery);
    return Promise.all(deliveries);
  }

  /**
   * Accepts a record into the buffer and resolves as soon as it is there, with the promise
   * of its delivery. This is where backpressure is: when buffer.memory is full, enqueue
   * waits for acknowledgements to free space. Records enqueued one after the other keep
   * their order. A delivery nobody awaits does not cause an unhandled rejection; flush()
   * reports failures.
   */
  enqueue(record: ProducerRecord<K, V>): Promise<{ delivery: Promise<RecordMetadata> }> {
    try {
      if (this.#closing) throw new ClientClosedError('producer');
      this.#txn.checkCanSend();
      // Fast path: ready, topic known, buffer space free, nobody queued ahead.
      if (this.#intakeDepth === 0 && this.#ready !== null && this.#sender !== null) {
        const fast = this.#tryAccept(record);
        if (fast) return Promise.resolve({ delivery: fast });
      }
    } catch (err) {
      return Promise.reject(err);
    }
    this.#intakeDepth++;
    // The delivery travels inside an object: a promise resolved with a promise would wait for it.
    const result = this.#intake.then(async () => ({ delivery: (await this.#accept(record)).promise }));
    this.#intake = result.then(
      () => {
        this.#intakeDepth--;
      },
      () => {
        this.#intakeDepth--;
      },
    );
    return result;
  }

  #prepare(record: ProducerRecord<K, V>): Prepared {
    const key = record.key === undefined || record.key === null ? null : this.#keySerializer(record.key, record.topic);
    const value = record.value === null ? null : this.#valueSerializer(record.value, record.topic);
    const headers = normalizeHeaders(record.headers);
    const timestamp =
      record.timestamp === undefined
        ? BigInt(Date.now())
        : record.timestamp instanceof Date
          ? BigInt(record.timestamp.getTime())
          : BigInt(record.timestamp);
    const size = estimateRecordSize(key, value, headers);
    if (size > this.#s.maxRequestSize) {
      throw new KafkaError(
        `Cannot send a record of about ${size} bytes to "${record.topic}": larger than maxRequestSize (${this.#s.maxRequestSize})`,
        { code: 'MESSAGE_TOO_LARGE', errorCode: ErrorCode.MESSAGE_TOO_LARGE },
      );
    }
    return { key, value, headers, timestamp, size };
  }

  #choosePartition(record: ProducerRecord<K, V>, key: Buffer | null, value: Buffer | null): number {
    const topic = this.cluster.metadata.topics.get(record.topic)!;
    const count = topic.partitions.length;
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= count) {
        throw new KafkaError(
          `Cannot send to "${record.topic}-${record.partition}": the topic has ${count} partitions`,
          {
            code: 'UNKNOWN_TOPIC_OR_PARTITION',
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          },
        );
      }
      return record.partition;
    }
    return this.#partitioner.partition({
      topic: record.topic,
      key,
      value,
      partitionCount: count,
      availablePartitions: this.cluster.metadata.availablePartitions(record.topic),
    });
  }

  #tryAccept(record: ProducerRecord<K, V>): Promise<RecordMetadata> | null {
    const topic = this.cluster.metadata.topics.get(record.topic);
    if (topic === undefined || topic.partitions.length === 0) return null;
    const prepared = this.#prepare(record);
    if (!this.#pool.tryReserve(prepared.size)) return null;
    return this.#append(record, prepared);
  }

  async #accept(record: ProducerRecord<K, V>): Promise<{ promise: Promise<RecordMetadata> }> {
    await this.connect();
    if (this.#closing) throw new ClientClosedError('producer');
    this.#txn.checkCanSend();
    const known = this.cluster.metadata.topics.get(record.topic);
    if (known === undefined || known.partitions.length === 0) {
      await this.cluster.topicMetadata(record.topic, this.#s.maxBlockMs);
    }
    const prepared = this.#prepare(record);
    await this.#pool.reserve(prepared.size, this.#s.maxBlockMs);
    return { promise: this.#append(record, prepared) };
  }

  #append(record: ProducerRecord<K, V>, prepared: Prepared): Promise<RecordMetadata> {
    let partition: number;
    try {
      partition = this.#choosePartition(record, prepared.key, prepared.value);
    } catch (err) {
      this.#pool.release(prepared.size);
      throw err;
    }
    let resolve!: (m: RecordMetadata) => void;
    let reject!: (e: KafkaError) => void;
    const delivery = new Promise<RecordMetadata>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    delivery.catch(() => {});
    const pending: PendingRecord = { ...prepared, resolve, reject };
    const { newBatch, full } = this.#accumulator.append(record.topic, partition, pending, Date.now());
    this.#partitioner.onAppend?.(record.topic, partition, prepared.size);
    if (newBatch || full) this.#signal();
    return delivery;
  }

  /** Sends everything buffered now and waits for it; rejects if any of those records failed. */
  async flush(): Promise<void> {
    await this.#intake;
    const waiting = [...this.#accumulator.batches(), ...this.#sending];
    if (waiting.length === 0) return;
    this.#accumulator.beginFlush();
    this.#signal();
    try {
      await Promise.all(waiting.map((b) => b.whenDone()));
      const failed = waiting.filter((b) => b.error !== null);
      if (failed.length > 0) {
        const first = failed[0]!.error!;
        const count = failed.reduce((n, b) => n + b.recordCount, 0);
        const total = waiting.reduce((n, b) => n + b.recordCount, 0);
        throw new KafkaError(`${count} of ${total} records failed: ${first.message}`, {
          code: first instanceof KafkaError ? first.code : 'UNKNOWN',
          errorCode: first instanceof KafkaError ? first.errorCode : null,
          retriable: false,
          cause: first,
        });
      }
    } finally {
      this.#accumulator.endFlush();
    }
  }

  /** Flushes (for up to timeoutMs, default 30 s), then fails what is left and disconnects. */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closing = true;
    const timeoutMs = options.timeoutMs ?? 30_000;
    if (this.#sender !== null) await within(this.flush(), timeoutMs);
    this.#closed = true;
    const err = new ClientClosedError('producer');
    for (const b of this.#accumulator.drainAll()) this.#failBatch(b, err);
    this.#pool.abort(err);
    this.#signal();
    // Closing the cluster first ends retries the send loop may be waiting in.
    await this.cluster.close();
    await this.#sender?.catch(() => {});
  }

  // ------------------------------------------------------------------ transactions

  /** Registers the transactional id with its coordinator, fencing older producers with the same id. */
  async initTransactions(): Promise<void> {
    if (!this.#txn.isTransactional) {
      throw new KafkaError('Cannot initialize transactions: the producer has no transactionalId', {
        code: 'INVALID_TXN_STATE',
      });
    }
    await this.connect();
    await this.#txn.initProducerId();
  }

  beginTransaction(): void {
    this.#txn.beginTransaction();
  }

  /** Adds a consumer's offsets to the transaction: they commit (or not) with its records. */
  async sendOffsetsToTransaction(
    offsets: ReadonlyArray<TopicPartition & { offset: bigint; metadata?: string | null }>,
    group: ConsumerGroupMetadata | string,
  ): Promise<void> {
    const metadata =
      typeof group === 'string' ? { groupId: group, generationId: -1, memberId: '', groupInstanceId: null } : group;
    await this.#txn.sendOffsets(offsets, metadata);
  }

  async commitTransaction(): Promise<void> {
    if (this.#txn.state === 'in-transaction') {
      try {
        await this.flush();
      } catch (err) {
        if (err instanceof KafkaError) this.#txn.onError(err);
        throw err;
      }
    }
    await this.#txn.endTransaction(true);
  }

  async abortTransaction(): Promise<void> {
    const err = new KafkaError('Record dropped: its transaction was aborted', { code: 'TRANSACTION_ABORTED' });
    for (const b of this.#accumulator.drainAll()) this.#failBatch(b, err);
    // In-flight batches must land (or fail) before the markers are written.
    while (this.#inFlightByNode.size > 0) await sleep(5);
    await this.#txn.endTransaction(false);
  }

  // ------------------------------------------------------------------ sender

  #signal(): void {
    this.#signaled = true;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async #runSender(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      try {
        this.#signaled = false;
        const delay = await this.#sendReady();
        failures = 0;
        if (this.#closed) break;
        if (this.#signaled) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(delay, 1_000));
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      } catch (err) {
        this.cluster.logger.warn(`Producer send loop: ${(err as Error).message}`);
        await sleep(backoffDelay(failures++, this.cluster.retryBackoff));
      }
    }
  }

  /** One pass: hands every sendable batch to a Produce request; returns how long to wait for the next. */
  async #sendReady(): Promise<number> {
    if (this.#idempotent && this.#bumpEpoch && !this.#txn.isTransactional && this.#inFlightByNode.size === 0) {
      this.#bumpEpoch = false;
      await this.#txn.initProducerId({ bump: true });
      this.#ackedSequence.clear();
    }
    const now = Date.now();
    if (now - this.#lastExpiry >= 100) {
      this.#lastExpiry = now;
      this.#expire(now);
      this.cluster.maybeRefreshMetadata().catch(() => {});
    }
    const unknownLeaders = new Set<string>();
    const toAdd: TopicPartition[] = [];
    const closingFlush = this.#closing;
    const { ready, nextDelayMs } = this.#accumulator.ready(now, closingFlush, (topic, partition) => {
      // A new epoch is coming: let in-flight batches land, send nothing under the old one.
      if (this.#bumpEpoch) return false;
      const key = tpKey(topic, partition);
      if ((this.#inFlightByPartition.get(key) ?? 0) > 0) {
        if (this.#recovering.has(key) || !this.#idempotent) return false;
      }
      const leader = this.cluster.metadata.partition(topic, partition)?.leader ?? -1;
      if (leader < 0) {
        unknownLeaders.add(topic);
        return false;
      }
      if ((this.#inFlightByNode.get(leader) ?? 0) >= this.#s.maxInFlight) return false;
      if (this.#txn.isTransactional && !this.#txn.isPartitionAdded(topic, partition)) {
        toAdd.push({ topic, partition });
        return false;
      }
      return true;
    });
    if (unknownLeaders.size > 0) {
      this.cluster.refreshMetadata(unknownLeaders).then(
        () => this.#signal(),
        () => {},
      );
    }
    if (toAdd.length > 0) {
      try {
        await this.#txn.addPartitions(toAdd);
        return 0;
      } catch (err) {
        const e = err instanceof KafkaError ? err : new KafkaError(String(err), { code: 'UNKNOWN', cause: err });
        for (const b of [...this.#accumulator.batches()]) {
          if (toAdd.some((p) => p.topic === b.topic && p.partition === b.partition)) {
            this.#accumulator.remove(b);
            this.#failBatch(b, e);
          }
        }
        return 0;
      }
    }
    const byLeader = new Map<number, ProducerBatch[]>();
    for (const b of ready) {
      const leader = this.cluster.metadata.partition(b.topic, b.partition)!.leader;
      const list = byLeader.get(leader) ?? [];
      const size = list.reduce((n, x) => n + x.size, 0);
      if (list.length > 0 && size + b.size > this.#s.maxRequestSize) continue;
      list.push(b);
      byLeader.set(leader, list);
    }
    for (const [leader, batches] of byLeader) {
      for (const b of batches) {
        this.#accumulator.remove(b);
        this.#sending.add(b);
        this.#stamp(b);
      }
      this.#produce(leader, batches).catch((err) => this.cluster.logger.error(`Produce failed: ${err}`));
    }
    return byLeader.size > 0 ? 0 : nextDelayMs;
  }

  /** Gives a batch its producer id, epoch and sequence, keeping them across retries of the same epoch. */
  #stamp(b: ProducerBatch): void {
    if (!this.#idempotent || !this.#txn.hasProducerId) return;
    if (b.baseSequence >= 0 && b.producerId === this.#txn.producerId && b.producerEpoch === this.#txn.producerEpoch) {
      return;
    }
    const seq = this.#txn.takeSequence(b.topic, b.partition, b.recordCount);
    b.stamp(this.#txn.producerId, this.#txn.producerEpoch, seq, this.#txn.isTransactional);
  }

  #expire(now: number): void {
    for (const b of [...this.#accumulator.batches()]) {
      if (now - b.createdAt < this.#s.deliveryTimeoutMs) continue;
      this.#accumulator.remove(b);
      this.#failBatch(
        b,
        new KafkaTimeoutError(
          `Cannot deliver ${b.recordCount} records to "${b.topic}-${b.partition}": deliveryTimeoutMs (${this.#s.deliveryTimeoutMs}) passed`,
        ),
      );
    }
  }

  #track(leader: number, batches: ProducerBatch[], delta: 1 | -1): void {
    const n = (this.#inFlightByNode.get(leader) ?? 0) + delta;
    if (n <= 0) this.#inFlightByNode.delete(leader);
    else this.#inFlightByNode.set(leader, n);
    for (const b of batches) {
      const key = tpKey(b.topic, b.partition);
      const m = (this.#inFlightByPartition.get(key) ?? 0) + delta;
      if (m <= 0) {
        this.#inFlightByPartition.delete(key);
        this.#recovering.delete(key);
      } else this.#inFlightByPartition.set(key, m);
    }
  }

  async #encode(b: ProducerBatch): Promise<Buffer> {
    if (b.encoded) return b.encoded;
    const batch = createRecordBatch(
      b.records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })),
      {
        compression: this.#s.codec,
        isTransactional: b.isTransactional,
        producerId: b.producerId,
        producerEpoch: b.producerEpoch,
        baseSequence: b.baseSequence,
      },
    );
    b.encoded = await encodeRecordBatch(batch, { compressionLevel: this.#s.compressionLevel });
    return b.encoded;
  }

  async #produce(leader: number, batches: ProducerBatch[]): Promise<void> {
    this.#track(leader, batches, 1);
    try {
      const connection = await this.cluster.connection(leader);
      const version = connection.versionFor(ProduceApi);
      if (this.#s.codec === CompressionCodec.Zstd && version < ZSTD_MIN_PRODUCE_VERSION) {
        throw new KafkaError(`Cannot send zstd batches: ${connection.label} serves Produce < v7`, {
          code: 'UNSUPPORTED_COMPRESSION_TYPE',
          errorCode: ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
        });
      }
      const encoded = await Promise.all(batches.map((b) => this.#encode(b)));
      const topics = new Map<string, Array<{ index: number; records: Buffer }>>();
      batches.forEach((b, i) => {
        const list = topics.get(b.topic) ?? [];
        list.push({ index: b.partition, records: encoded[i]! });
        topics.set(b.topic, list);
      });
      for (const b of batches) b.attempts++;
      const response = await connection.send(
        ProduceApi,
        {
          transactionalId: this.#txn.transactionalId,
          acks: this.#s.acks,
          timeoutMs: this.#s.requestTimeoutMs,
          topicData: [...topics].map(([name, partitionData]) => ({ name, partitionData })),
        },
        { version, expectResponse: this.#s.acks !== 0 },
      );
      if (this.#s.acks === 0) {
        for (const b of batches) this.#completeBatch(b, -1n, -1n);
        return;
      }
      const results = new Map<string, ProduceResponsePartitionProduceResponse>();
      for (const t of response.responses) {
        for (const p of t.partitionResponses) results.set(tpKey(t.name, p.index), p);
      }
      for (const b of batches) {
        const result = results.get(tpKey(b.topic, b.partition));
        if (result === undefined) {
          this.#retryOrFail(
            b,
            new KafkaError(`Cannot produce to "${b.topic}-${b.partition}": the response does not mention it`, {
              code: 'INVALID_RESPONSE',
              retriable: true,
            }),
          );
        } else this.#onResult(b, result);
      }
    } catch (err) {
      const e =
        err instanceof KafkaError ? err : new KafkaError((err as Error).message, { code: 'UNKNOWN', cause: err });
      // A broker that went away may no longer lead these partitions.
      if (err instanceof ConnectionError && !this.#closed) this.cluster.refreshMetadata().catch(() => {});
      for (const b of batches) this.#retryOrFail(b, e);
    } finally {
      this.#track(leader, batches, -1);
      this.#signal();
    }
  }

  #onResult(b: ProducerBatch, p: ProduceResponsePartitionProduceResponse): void {
    const key = tpKey(b.topic, b.partition);
    if (p.errorCode === ErrorCode.NONE || p.errorCode === ErrorCode.DUPLICATE_SEQUENCE_NUMBER) {
      if (b.baseSequence >= 0) this.#ackedSequence.set(key, (b.baseSequence + b.recordCount) % 2 ** 31);
      this.#completeBatch(b, p.errorCode === ErrorCode.NONE ? p.baseOffset : -1n, p.logAppendTimeMs);
      return;
    }
    const err = KafkaError.fromCode(p.errorCode, `Cannot produce to "${b.topic}-${b.partition}"`, p.errorMessage);
    if (needsMetadataRefresh(p.errorCode)) this.cluster.refreshMetadata().catch(() => {});
    if (
      (p.errorCode === ErrorCode.MESSAGE_TOO_LARGE || p.errorCode === ErrorCode.RECORD_LIST_TOO_LARGE) &&
      b.recordCount > 1 &&
      !this.#closed
    ) {
      // As Kafka's producer does: send the records again in two smaller batches.
      this.#sending.delete(b);
      const [first, second] = b.split();
      this.#recovering.add(tpKey(b.topic, b.partition));
      this.#accumulator.reenqueue(second);
      this.#accumulator.reenqueue(first);
      return;
    }
    if (this.#idempotent && !this.#txn.isTransactional) {
      if (p.errorCode === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER) {
        // After an earlier batch of the partition failed, later ones are out of order only
        // because of it: resend them once it went through. If this one was next in line,
        // the broker lost our sequence (Kafka's KIP-360 case): fail it and start a new epoch.
        const expected = this.#ackedSequence.get(key) ?? 0;
        if (b.baseSequence !== expected) {
          this.#retryOrFail(
            b,
            new KafkaError(err.message, { code: err.code, errorCode: err.errorCode, retriable: true }),
          );
          return;
        }
        this.#bumpEpoch = true;
        this.#failBatch(b, err);
        return;
      }
      if (p.errorCode === ErrorCode.UNKNOWN_PRODUCER_ID) {
        // The broker has no state for our id (records expired): nothing was written, so the
        // batch goes again under a new epoch with new sequence numbers.
        this.#bumpEpoch = true;
        b.baseSequence = -1;
        this.#retryOrFail(
          b,
          new KafkaError(err.message, { code: err.code, errorCode: err.errorCode, retriable: true }),
        );
        return;
      }
    }
    this.#retryOrFail(b, err);
  }

  #retryOrFail(b: ProducerBatch, err: KafkaError): void {
    const now = Date.now();
    if (
      !err.retriable ||
      this.#closed ||
      b.attempts > this.#s.retries ||
      now - b.createdAt >= this.#s.deliveryTimeoutMs
    ) {
      this.#failBatch(b, err);
      return;
    }
    b.retryAt = now + backoffDelay(b.attempts - 1, this.cluster.retryBackoff);
    this.#recovering.add(tpKey(b.topic, b.partition));
    this.#sending.delete(b);
    this.#accumulator.reenqueue(b);
  }

  #completeBatch(b: ProducerBatch, baseOffset: bigint, logAppendTime: bigint): void {
    this.#sending.delete(b);
    this.#pool.release(b.records.reduce((n, r) => n + r.size, 0));
    b.complete(baseOffset, logAppendTime);
  }

  #failBatch(b: ProducerBatch, err: KafkaError): void {
    this.#sending.delete(b);
    if (b.done) return;
    this.#pool.release(b.records.reduce((n, r) => n + r.size, 0));
    if (this.#txn.isTransactional) this.#txn.onError(err);
    else if (this.#idempotent && b.baseSequence >= 0 && err.code !== 'CLIENT_CLOSED') {
      // A sequence number was used and will never be acknowledged: later batches would be
      // out of order, so the producer moves to a new epoch.
      this.#bumpEpoch = true;
    }
    b.fail(err);
  }
}

function toBuffer(v: string | Uint8Array | null): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function normalizeHeaders(headers: RecordHeadersInput | undefined): RecordHeader[] {
  if (headers === undefined) return [];
  if (Array.isArray(headers)) {
    return (headers as ReadonlyArray<{ key: string; value: string | Uint8Array | null }>).map((h) => ({
      key: h.key,
      value: toBuffer(h.value),
    }));
  }
  return Object.entries(headers as Record<string, string | Uint8Array | null>).map(([key, value]) => ({
    key,
    value: toBuffer(value),
  }));
}
