import { ZERO_UUID } from '../../protocol/codec.ts';
import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import type { RecordHeader } from '../../protocol/records/record.ts';
import { backoffDelay, sleep, within } from '../backoff.ts';
import { Cluster, CoordinatorType } from '../cluster.ts';
import { ClientClosedError, isRetriable, KafkaError, needsMetadataRefresh } from '../errors.ts';
import { type TopicPartition, tpKey } from '../metadata.ts';
import {
  commitOffsets,
  fetchCommittedOffsets,
  IsolationLevel,
  listOffsets,
  OffsetSpec,
  type OffsetToCommit,
} from '../offsets.ts';
import type { ClientOptions } from '../options.ts';
import { type Deserializer, deserializers } from '../serializers.ts';
import { ASSIGNORS, type Assignor } from './assignors.ts';
import { ClassicGroupMember } from './classic-member.ts';
import { ConsumerGroupHeartbeatApi, ConsumerGroupMember } from './consumer-group-member.ts';
import { decodeFetchedRecords, FetchApi, type FetchedRecord, FIRST_FETCH_VERSION_WITH_TOPIC_IDS } from './fetcher.ts';
import type { GroupMembership, MembershipListener } from './membership.ts';

export interface ConsumerRecord<K, V> {
  topic: string;
  partition: number;
  offset: bigint;
  key: K | null;
  value: V | null;
  headers: RecordHeader[];
  timestamp: bigint;
  timestampType: 'create-time' | 'log-append-time';
  leaderEpoch: number;
}

export type OffsetResetPolicy = 'earliest' | 'latest' | 'none';

export interface ConsumerOptions<K, V> extends ClientOptions {
  /** Join this group (with subscribe) or use its committed offsets (with assign). */
  groupId?: string;
  /** `consumer` (KIP-848, the default) or `classic` (JoinGroup/SyncGroup). */
  groupProtocol?: 'consumer' | 'classic';
  /** Static membership (KIP-345): the member keeps its partitions across quick restarts. */
  groupInstanceId?: string;
  /** Classic: how long the coordinator waits for a heartbeat; default 45 s. */
  sessionTimeoutMs?: number;
  /** Classic: heartbeat period; default 3 s (KIP-848 uses the broker's interval). */
  heartbeatIntervalMs?: number;
  /** How long a rebalance may wait for this member; default 5 min. */
  rebalanceTimeoutMs?: number;
  /** Classic: assignors in order of preference; default ['range', 'cooperative-sticky'], as Java. */
  assignors?: ReadonlyArray<keyof typeof ASSIGNORS | Assignor>;
  /** KIP-848: server-side assignor name (`uniform`, `range`); default the broker's. */
  serverAssignor?: string;
  /** Commit processed offsets periodically, on rebalance and on close; default true with a group. */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  /** Where to start without a committed offset; default 'latest'. */
  autoOffsetReset?: OffsetResetPolicy;
  /** read_committed skips records of aborted transactions; default read_uncommitted. */
  isolationLevel?: 'read_uncommitted' | 'read_committed';
  fetchMinBytes?: number;
  fetchMaxBytes?: number;
  maxPartitionFetchBytes?: number;
  fetchMaxWaitMs?: number;
  /** Most records one poll returns; default 500. */
  maxPollRecords?: number;
  keyDeserializer?: Deserializer<K>;
  valueDeserializer?: Deserializer<V>;
  onPartitionsAssigned?(partitions: TopicPartition[]): void;
  onPartitionsRevoked?(partitions: TopicPartition[]): void;
  onPartitionsLost?(partitions: TopicPartition[]): void;
}

type ResetTarget = 'earliest' | 'latest' | { timestamp: bigint };

/** What the consumer knows and holds for one assigned partition. */
class PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to fetch; null until known from a committed offset or a reset. */
  position: bigint | null = null;
  /** After the last record handed to the application. */
  delivered: bigint | null = null;
  /** After the last record the application finished with (auto-commit commits this). */
  processed: bigint | null = null;
  committed: bigint | null = null;
  reset: ResetTarget | null = null;
  paused = false;
  buffer: FetchedRecord[] = [];
  bufferAt = 0;
  /** Bumped by seeks and resets: fetch results started before are dropped. */
  version = 0;
  fetching = false;
  initializing = false;
  highWatermark = -1n;
  lastStableOffset = -1n;
  logStartOffset = -1n;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  get buffered(): number {
    return this.buffer.length - this.bufferAt;
  }

  clearBuffer(): void {
    this.buffer = [];
    this.bufferAt = 0;
  }
}

interface Drained<K, V> {
  record: ConsumerRecord<K, V>;
  state: PartitionState;
  version: number;
}

/**
 * A Kafka consumer: group membership (KIP-848 or classic) or manual assignment, a fetch
 * loop that keeps one Fetch in flight per broker and up to one response of records
 * buffered per partition, and poll / async-iterator APIs on top. Group heartbeats run on
 * their own timers, so slow processing never costs the member its partitions.
 */
export class Consumer<K = Buffer, V = Buffer> implements AsyncIterable<ConsumerRecord<K, V>> {
  readonly cluster: Cluster;
  readonly #options: ConsumerOptions<K, V>;
  readonly #groupId: string | null;
  readonly #autoCommit: boolean;
  readonly #readCommitted: boolean;
  readonly #keyDeserializer: Deserializer<K>;
  readonly #valueDeserializer: Deserializer<V>;
  readonly #assignment = new Map<string, PartitionState>();
  #subscription: string[] | null = null;
  #membership: GroupMembership | null = null;
  #joining = false;
  /** Set when the broker refused KIP-848 after advertising it. */
  #forceClassic = false;
  #started: Promise<void> | null = null;
  #fetchLoop: Promise<void> | null = null;
  readonly #fetchingNodes = new Set<number>();
  #fetchWake: (() => void) | null = null;
  /** Set by #wakeFetcher, so a wake-up while the loop is busy is not lost. */
  #fetchSignaled = false;
  #recordWaiters: Array<() => void> = [];
  #autoCommitTimer: NodeJS.Timeout | null = null;
  #error: Error | null = null;
  #drainCursor = 0;
  #closed = false;

  constructor(options: ConsumerOptions<K, V>) {
    this.cluster = new Cluster(options, { allowAutoTopicCreation: true });
    this.#options = options;
    this.#groupId = options.groupId ?? null;
    this.#autoCommit = this.#groupId !== null && (options.autoCommit ?? true);
    this.#readCommitted = options.isolationLevel === 'read_committed';
    this.#keyDeserializer = options.keyDeserializer ?? (deserializers.bytes as unknown as Deserializer<K>);
    this.#valueDeserializer = options.valueDeserializer ?? (deserializers.bytes as unknown as Deserializer<V>);
  }

  // ------------------------------------------------------------------ assignment

  /** Joins the group (on the first poll or iteration) to consume these topics. */
  subscribe(topics: readonly string[]): void {
    if (this.#groupId === null) throw new Error('subscribe() needs a groupId; use assign() without a group');
    if (this.#subscription === null && this.#assignment.size > 0) {
      throw new Error('Cannot subscribe: partitions were assigned manually');
    }
    this.#subscription = [...new Set(topics)];
    this.cluster.addTopics(this.#subscription);
    if (this.#membership) this.#membership.updateSubscription(this.#subscription);
    else if (this.#started && this.#groupId !== null) this.#joinLater(this.#groupId);
  }

  /** Leaves the group (committing processed offsets) or drops the manual assignment. */
  async unsubscribe(): Promise<void> {
    this.#subscription = null;
    if (this.#membership) {
      // Leaving revokes the partitions, which commits them as a member still.
      await this.#membership.stop(true);
      this.#membership = null;
    } else {
      await this.#autoCommitNow();
    }
    this.#assignment.clear();
  }

  /** Joins again after unsubscribe(); the subscription at the time of joining counts. */
  #joinLater(groupId: string): void {
    if (this.#joining) return;
    this.#joining = true;
    this.#createMembership(groupId)
      .then(
        (membership) => {
          if (this.#closed || this.#subscription === null) return;
          this.#membership = membership;
          membership.start(this.#subscription);
        },
        (err) => {
          this.#error = err;
          this.#notifyRecords();
        },
      )
      .finally(() => {
        this.#joining = false;
      });
  }

  /** Consumes exactly these partitions, without group membership. */
  assign(partitions: readonly TopicPartition[]): void {
    if (this.#subscription !== null) throw new Error('Cannot assign partitions: the consumer is subscribed to topics');
    const keep = new Set(partitions.map((p) => tpKey(p.topic, p.partition)));
    for (const [key] of this.#assignment) if (!keep.has(key)) this.#assignment.delete(key);
    for (const p of partitions) {
      const key = tpKey(p.topic, p.partition);
      if (!this.#assignment.has(key)) this.#assignment.set(key, new PartitionState(p.topic, p.partition));
    }
    this.cluster.addTopics(partitions.map((p) => p.topic));
    this.#wakeFetcher();
  }

  assignment(): TopicPartition[] {
    return [...this.#assignment.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** The group identity for Producer.sendOffsetsToTransaction. */
  groupMetadata(): { groupId: string; generationId: number; memberId: string; groupInstanceId: string | null } {
    if (this.#groupId === null) throw new Error('The consumer has no groupId');
    const member = this.#membership?.member;
    return {
      groupId: this.#groupId,
      generationId: member?.generationIdOrMemberEpoch ?? -1,
      memberId: member?.memberId ?? '',
      groupInstanceId: member?.groupInstanceId ?? null,
    };
  }

  get groupProtocol(): 'classic' | 'consumer' | null {
    return this.#membership?.protocol ?? null;
  }

  // ------------------------------------------------------------------ positions

  #state(tp: TopicPartition, what: string): PartitionState {
    const state = this.#assignment.get(tpKey(tp.topic, tp.partition));
    if (state === undefined) throw new Error(`Cannot ${what} "${tp.topic}-${tp.partition}": it is not assigned`);
    return state;
  }

  #moveTo(state: PartitionState, position: bigint | null, reset: ResetTarget | null): void {
    state.version++;
    state.position = position;
    state.reset = reset;
    state.clearBuffer();
    if (position !== null) {
      state.delivered = position;
      state.processed = position;
    }
    this.#wakeFetcher();
  }

  /** The next record fetched for the partition will be the one at `offset`. */
  seek(tp: TopicPartition, offset: bigint | number): void {
    this.#moveTo(this.#state(tp, 'seek'), BigInt(offset), null);
  }

  seekToBeginning(partitions: readonly TopicPartition[] = this.assignment()): void {
    for (const tp of partitions) this.#moveTo(this.#state(tp, 'seek'), null, 'earliest');
  }

  seekToEnd(partitions: readonly TopicPartition[] = this.assignment()): void {
    for (const tp of partitions) this.#moveTo(this.#state(tp, 'seek'), null, 'latest');
  }

  /** Moves to the first record with a timestamp at or after `timestamp` (the end when none). */
  seekToTimestamp(timestamp: number | bigint | Date, partitions: readonly TopicPartition[] = this.assignment()): void {
    const ts = timestamp instanceof Date ? BigInt(timestamp.getTime()) : BigInt(timestamp);
    for (const tp of partitions) this.#moveTo(this.#state(tp, 'seek'), null, { timestamp: ts });
  }

  /** The offset of the next record this consumer will return for the partition, null if not known yet. */
  position(tp: TopicPartition): bigint | null {
    const state = this.#state(tp, 'get the position of');
    return state.delivered ?? state.position;
  }

  /**
   * How far the partition's position is behind its end (the high watermark, or the last
   * stable offset with read_committed) as of the last fetch: 0 once everything fetched has
   * been handed out, null before the first fetch answered (Java's currentLag, KIP-695).
   * Control records and aborted transactions skipped by the fetch count as consumed, and so
   * do records the async iterator has taken from the fetch buffer but not yielded yet.
   */
  currentLag(tp: TopicPartition): bigint | null {
    const state = this.#state(tp, 'get the lag of');
    const end = this.#readCommitted ? state.lastStableOffset : state.highWatermark;
    if (end < 0n || state.position === null) return null;
    // With nothing buffered, every offset below the fetch position was handed out or skipped.
    const at = state.buffered > 0 ? (state.delivered ?? state.position) : state.position;
    return end > at ? end - at : 0n;
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#state(tp, 'pause').paused = true;
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#state(tp, 'resume').paused = false;
    this.#wakeFetcher();
  }

  paused(): TopicPartition[] {
    return [...this.#assignment.values()]
      .filter((s) => s.paused)
      .map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** Committed offsets of the group for these partitions (−1 when none). */
  async committed(partitions: readonly TopicPartition[]): Promise<Array<TopicPartition & { offset: bigint }>> {
    if (this.#groupId === null) throw new Error('committed() needs a groupId');
    await this.connect();
    const offsets = await fetchCommittedOffsets(this.cluster, this.#groupId, partitions);
    return offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset }));
  }

  // ------------------------------------------------------------------ commits

  /**
   * Commits offsets: the given ones (records commit their offset + 1, the next to read), or
   * else every record handed out so far.
   */
  async commit(offsets?: ReadonlyArray<TopicPartition & { offset: bigint }> | ConsumerRecord<K, V>): Promise<void> {
    if (this.#groupId === null) throw new Error('commit() needs a groupId');
    let list: OffsetToCommit[];
    if (offsets === undefined) {
      list = [...this.#assignment.values()]
        .filter((s) => s.delivered !== null && s.delivered !== s.committed)
        .map((s) => ({ topic: s.topic, partition: s.partition, offset: s.delivered! }));
    } else if (Array.isArray(offsets)) {
      list = [...(offsets as ReadonlyArray<TopicPartition & { offset: bigint }>)];
    } else {
      const r = offsets as ConsumerRecord<K, V>;
      list = [{ topic: r.topic, partition: r.partition, offset: r.offset + 1n, leaderEpoch: r.leaderEpoch }];
    }
    await this.#commit(list);
  }

  async #commit(list: OffsetToCommit[]): Promise<void> {
    if (list.length === 0 || this.#groupId === null) return;
    await this.connect();
    const member = this.#membership?.member;
    try {
      await commitOffsets(this.cluster, this.#groupId, list, member);
    } catch (err) {
      const code = err instanceof KafkaError ? err.errorCode : null;
      if (
        code === ErrorCode.REBALANCE_IN_PROGRESS ||
        code === ErrorCode.ILLEGAL_GENERATION ||
        code === ErrorCode.UNKNOWN_MEMBER_ID ||
        code === ErrorCode.STALE_MEMBER_EPOCH ||
        code === ErrorCode.FENCED_MEMBER_EPOCH
      ) {
        this.#membership?.requestRejoin();
      }
      throw err;
    }
    for (const o of list) {
      const state = this.#assignment.get(tpKey(o.topic, o.partition));
      if (!state) continue;
      state.committed = o.offset;
      // Committing an offset says everything before it was processed. Without this, a
      // record committed by hand inside the loop (processed only once the loop asks for the
      // next) would be committed again as unprocessed by auto-commit, moving the offset back.
      if (state.processed === null || o.offset > state.processed) state.processed = o.offset;
    }
  }

  /** Offsets processed and not yet committed, for auto-commit. */
  #processedOffsets(filter?: ReadonlySet<string>): OffsetToCommit[] {
    return [...this.#assignment.entries()]
      .filter(
        ([key, s]) => (filter === undefined || filter.has(key)) && s.processed !== null && s.processed !== s.committed,
      )
      .map(([, s]) => ({ topic: s.topic, partition: s.partition, offset: s.processed! }));
  }

  async #autoCommitNow(filter?: ReadonlySet<string>): Promise<void> {
    if (!this.#autoCommit) return;
    try {
      await this.#commit(this.#processedOffsets(filter));
    } catch (err) {
      this.cluster.logger.warn(`Auto-commit of group "${this.#groupId}" failed: ${(err as Error).message}`);
    }
  }

  // ------------------------------------------------------------------ lifecycle

  /** Connects and starts group membership and fetching; poll and iteration do this on their own. */
  async connect(): Promise<void> {
    if (this.#closed) throw new ClientClosedError('consumer');
    this.#started ??= this.#start();
    try {
      await this.#started;
    } catch (err) {
      this.#started = null;
      throw err;
    }
  }

  async #start(): Promise<void> {
    await this.cluster.connect();
    if (this.#subscription !== null && this.#groupId !== null) {
      this.#membership = await this.#createMembership(this.#groupId);
      this.#membership.start(this.#subscription);
    }
    if (this.#autoCommit) {
      const interval = this.#options.autoCommitIntervalMs ?? 5_000;
      this.#autoCommitTimer = setInterval(() => void this.#autoCommitNow(), interval);
      this.#autoCommitTimer.unref();
    }
    this.#fetchLoop ??= this.#runFetchLoop();
  }

  async #createMembership(groupId: string): Promise<GroupMembership> {
    const listener: MembershipListener = {
      assigned: (partitions) => {
        for (const p of partitions) {
          const key = tpKey(p.topic, p.partition);
          if (!this.#assignment.has(key)) this.#assignment.set(key, new PartitionState(p.topic, p.partition));
        }
        this.#options.onPartitionsAssigned?.(partitions);
        this.#wakeFetcher();
      },
      revoked: async (partitions) => {
        const keys = new Set(partitions.map((p) => tpKey(p.topic, p.partition)));
        await this.#autoCommitNow(keys);
        for (const key of keys) this.#assignment.delete(key);
        this.#options.onPartitionsRevoked?.(partitions);
      },
      lost: (partitions) => {
        for (const p of partitions) this.#assignment.delete(tpKey(p.topic, p.partition));
        this.#options.onPartitionsLost?.(partitions);
      },
      fatal: (err) => {
        // A broker can advertise ConsumerGroupHeartbeat and still refuse it (the group
        // protocol feature switched off): by default, fall back to the classic protocol.
        const refused = err instanceof KafkaError && err.errorCode === ErrorCode.UNSUPPORTED_VERSION;
        if (refused && this.#membership?.protocol === 'consumer' && this.#options.groupProtocol === undefined) {
          this.cluster.logger.warn(`Group "${groupId}" uses the classic protocol: ${err.message}`);
          this.#membership = null;
          this.#forceClassic = true;
          if (this.#subscription !== null && !this.#closed) this.#joinLater(groupId);
          return;
        }
        this.#error = err;
        this.#notifyRecords();
      },
    };
    let protocol = this.#forceClassic ? 'classic' : (this.#options.groupProtocol ?? 'consumer');
    if (protocol === 'consumer') {
      const connection = await this.cluster.retry(`Cannot find the coordinator of group "${groupId}"`, () =>
        this.cluster.coordinator(CoordinatorType.GROUP, groupId),
      );
      if (!connection.supports(ConsumerGroupHeartbeatApi)) {
        if (this.#options.groupProtocol === 'consumer') {
          throw new KafkaError(
            `Cannot join group "${groupId}" with the consumer protocol: ${connection.label} does not serve ConsumerGroupHeartbeat`,
            { code: 'UNSUPPORTED_VERSION', errorCode: ErrorCode.UNSUPPORTED_VERSION },
          );
        }
        this.cluster.logger.warn(
          `Group "${groupId}" uses the classic protocol: ${connection.label} does not serve ConsumerGroupHeartbeat (KIP-848)`,
        );
        protocol = 'classic';
      }
    }
    if (protocol === 'consumer') {
      return new ConsumerGroupMember(
        this.cluster,
        {
          groupId,
          groupInstanceId: this.#options.groupInstanceId ?? null,
          rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs ?? 300_000,
          serverAssignor: this.#options.serverAssignor ?? null,
        },
        listener,
      );
    }
    const assignors = (this.#options.assignors ?? ['range', 'cooperative-sticky']).map((a) => {
      if (typeof a !== 'string') return a;
      const found = ASSIGNORS[a];
      if (found === undefined) throw new Error(`Unknown assignor "${a}"`);
      return found;
    });
    return new ClassicGroupMember(
      this.cluster,
      {
        groupId,
        groupInstanceId: this.#options.groupInstanceId ?? null,
        sessionTimeoutMs: this.#options.sessionTimeoutMs ?? 45_000,
        rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs ?? 300_000,
        heartbeatIntervalMs: this.#options.heartbeatIntervalMs ?? 3_000,
        assignors,
      },
      listener,
    );
  }

  /**
   * Stops fetching, commits what was processed (with auto-commit), leaves the group and
   * disconnects, giving up on the broker after timeoutMs (default 30 s).
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    const left = () => deadline - Date.now();
    if (this.#autoCommitTimer) clearInterval(this.#autoCommitTimer);
    if (this.#started) {
      await within(this.#started, left());
      await within(this.#autoCommitNow(), left());
    }
    this.#closed = true;
    this.#wakeFetcher();
    this.#notifyRecords();
    if (this.#membership) await within(this.#membership.stop(true), left());
    // Closing the cluster ends whatever retries are still waiting.
    await this.cluster.close();
    await this.#fetchLoop?.catch(() => {});
  }

  // ------------------------------------------------------------------ reading

  /**
   * Returns the records fetched so far (up to maxPollRecords), waiting up to timeoutMs for
   * some. Calling poll again marks the previous batch processed for auto-commit.
   */
  async poll(options: { timeoutMs?: number; maxRecords?: number } = {}): Promise<Array<ConsumerRecord<K, V>>> {
    this.#markAllProcessed();
    const drained = await this.#pollRecords(options.timeoutMs ?? 1_000, options.maxRecords);
    for (const d of drained) this.#markDelivered(d);
    return drained.map((d) => d.record);
  }

  /** `for await (const record of consumer)`: each record counts as processed once the loop asks for the next. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerRecord<K, V>> {
    while (!this.#closed) {
      const drained = await this.#pollRecords(1_000);
      for (const d of drained) {
        if (!this.#current(d)) continue;
        this.#markDelivered(d);
        yield d.record;
        this.#markProcessed(d);
      }
    }
  }

  /** Batches of records as they are fetched; a batch counts as processed once the loop asks for the next. */
  async *batches(options: { maxRecords?: number } = {}): AsyncGenerator<Array<ConsumerRecord<K, V>>> {
    while (!this.#closed) {
      const drained = (await this.#pollRecords(1_000, options.maxRecords)).filter((d) => this.#current(d));
      if (drained.length === 0) continue;
      for (const d of drained) this.#markDelivered(d);
      yield drained.map((d) => d.record);
      for (const d of drained) this.#markProcessed(d);
    }
  }

  #current(d: Drained<K, V>): boolean {
    const state = this.#assignment.get(tpKey(d.state.topic, d.state.partition));
    return state === d.state && state.version === d.version;
  }

  #markDelivered(d: Drained<K, V>): void {
    if (this.#current(d)) d.state.delivered = d.record.offset + 1n;
  }

  #markProcessed(d: Drained<K, V>): void {
    if (this.#current(d)) d.state.processed = d.record.offset + 1n;
  }

  #markAllProcessed(): void {
    for (const s of this.#assignment.values()) if (s.delivered !== null) s.processed = s.delivered;
  }

  async #pollRecords(timeoutMs: number, maxRecords?: number): Promise<Array<Drained<K, V>>> {
    await this.connect();
    const max = maxRecords ?? this.#options.maxPollRecords ?? 500;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#error) {
        const err = this.#error;
        this.#error = null;
        throw err;
      }
      const drained = this.#drain(max);
      if (drained.length > 0) {
        this.#wakeFetcher();
        return drained;
      }
      const left = deadline - Date.now();
      if (this.#closed || left <= 0) return [];
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        const waiter = () => done();
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#recordWaiters.push(waiter);
      });
    }
  }

  /** Takes buffered records, partition after partition, starting where the last call stopped. */
  #drain(max: number): Array<Drained<K, V>> {
    const out: Array<Drained<K, V>> = [];
    const states = [...this.#assignment.values()];
    if (states.length === 0) return out;
    for (let i = 0; i < states.length && out.length < max; i++) {
      const state = states[(this.#drainCursor + i) % states.length]!;
      if (state.paused || state.buffered === 0) continue;
      while (state.bufferAt < state.buffer.length && out.length < max) {
        const r = state.buffer[state.bufferAt++]!;
        out.push({ record: this.#toRecord(state, r), state, version: state.version });
      }
      if (state.buffered === 0) state.clearBuffer();
    }
    this.#drainCursor = (this.#drainCursor + 1) % states.length;
    return out;
  }

  #toRecord(state: PartitionState, r: FetchedRecord): ConsumerRecord<K, V> {
    return {
      topic: state.topic,
      partition: state.partition,
      offset: r.offset,
      key: r.key === null ? null : this.#keyDeserializer(r.key, state.topic),
      value: r.value === null ? null : this.#valueDeserializer(r.value, state.topic),
      headers: r.headers,
      timestamp: r.timestamp,
      timestampType: r.timestampType,
      leaderEpoch: r.leaderEpoch,
    };
  }

  #notifyRecords(): void {
    const waiters = this.#recordWaiters;
    this.#recordWaiters = [];
    for (const w of waiters) w();
  }

  #wakeFetcher(): void {
    this.#fetchSignaled = true;
    const wake = this.#fetchWake;
    this.#fetchWake = null;
    wake?.();
  }

  // ------------------------------------------------------------------ fetching

  async #runFetchLoop(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      this.#fetchSignaled = false;
      this.cluster.maybeRefreshMetadata().catch(() => {});
      try {
        await this.#initPositions();
        this.#startFetches();
        failures = 0;
      } catch (err) {
        if (this.#closed) break;
        if (!isRetriable(err)) {
          this.#error = err as Error;
          this.#notifyRecords();
        }
        await sleep(backoffDelay(failures++, this.cluster.retryBackoff), this.cluster.closingSignal);
      }
      if (this.#closed) break;
      if (this.#fetchSignaled) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#options.fetchMaxWaitMs ?? 500);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#fetchWake = done;
      });
    }
  }

  /** Positions for partitions without one: committed offsets, then the reset policy or a requested seek. */
  async #initPositions(): Promise<void> {
    const needCommitted = [...this.#assignment.values()].filter(
      (s) => s.position === null && s.reset === null && !s.initializing,
    );
    if (needCommitted.length > 0) {
      if (this.#groupId === null) {
        for (const s of needCommitted) s.reset = this.#resetPolicy(s);
      } else {
        const versions = needCommitted.map((s) => s.version);
        for (const s of needCommitted) s.initializing = true;
        try {
          const committed = await fetchCommittedOffsets(
            this.cluster,
            this.#groupId,
            needCommitted.map((s) => ({ topic: s.topic, partition: s.partition })),
            { requireStable: true },
          );
          needCommitted.forEach((s, i) => {
            if (s.version !== versions[i] || this.#assignment.get(tpKey(s.topic, s.partition)) !== s) return;
            const c = committed.find((o) => o.topic === s.topic && o.partition === s.partition);
            if (c && c.offset >= 0n) {
              s.position = s.delivered = s.processed = s.committed = c.offset;
            } else {
              s.reset = this.#resetPolicy(s);
            }
          });
        } finally {
          for (const s of needCommitted) s.initializing = false;
        }
      }
    }
    const toReset = [...this.#assignment.values()].filter(
      (s) => s.position === null && s.reset !== null && !s.initializing,
    );
    if (toReset.length === 0) return;
    const versions = toReset.map((s) => s.version);
    for (const s of toReset) s.initializing = true;
    try {
      const listed = await listOffsets(
        this.cluster,
        toReset.map((s) => ({
          topic: s.topic,
          partition: s.partition,
          timestamp:
            s.reset === 'earliest'
              ? OffsetSpec.EARLIEST
              : s.reset === 'latest'
                ? OffsetSpec.LATEST
                : s.reset!.timestamp,
        })),
        this.#readCommitted ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED,
      );
      const missing = toReset.filter((_, i) => listed[i]!.offset < 0n);
      const ends =
        missing.length > 0
          ? await listOffsets(
              this.cluster,
              missing.map((s) => ({ topic: s.topic, partition: s.partition, timestamp: OffsetSpec.LATEST })),
              this.#readCommitted ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED,
            )
          : [];
      toReset.forEach((s, i) => {
        if (s.version !== versions[i] || this.#assignment.get(tpKey(s.topic, s.partition)) !== s) return;
        let offset = listed[i]!.offset;
        if (offset < 0n) offset = ends[missing.indexOf(s)]!.offset;
        s.reset = null;
        s.position = s.delivered = s.processed = offset;
      });
    } finally {
      for (const s of toReset) s.initializing = false;
    }
  }

  #resetPolicy(s: PartitionState): ResetTarget {
    const policy = this.#options.autoOffsetReset ?? 'latest';
    if (policy === 'none') {
      throw new KafkaError(`No committed offset for "${s.topic}-${s.partition}" and autoOffsetReset is "none"`, {
        code: 'NO_OFFSET_FOR_PARTITION',
      });
    }
    return policy;
  }

  #startFetches(): void {
    const byLeader = new Map<number, PartitionState[]>();
    const unknown = new Set<string>();
    for (const s of this.#assignment.values()) {
      if (s.paused || s.position === null || s.fetching || s.buffered > 0) continue;
      const leader = this.cluster.metadata.partition(s.topic, s.partition)?.leader ?? -1;
      if (leader < 0) {
        unknown.add(s.topic);
        continue;
      }
      if (this.#fetchingNodes.has(leader)) continue;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), s]);
    }
    if (unknown.size > 0) {
      this.cluster.refreshMetadata(unknown).then(
        () => this.#wakeFetcher(),
        () => {},
      );
    }
    for (const [leader, states] of byLeader) {
      this.#fetchingNodes.add(leader);
      for (const s of states) s.fetching = true;
      this.#fetch(leader, states)
        .catch((err) => {
          if (needsMetadataRefresh((err as KafkaError).errorCode ?? 0) || isRetriable(err)) {
            this.cluster.refreshMetadata().catch(() => {});
          } else if (!this.#closed) {
            this.#error = err as Error;
            this.#notifyRecords();
          }
        })
        .finally(() => {
          this.#fetchingNodes.delete(leader);
          for (const s of states) s.fetching = false;
          this.#wakeFetcher();
        });
    }
  }

  async #fetch(leader: number, states: PartitionState[]): Promise<void> {
    const connection = await this.cluster.connection(leader);
    let version = connection.versionFor(FetchApi);
    const topics = new Map<string, PartitionState[]>();
    for (const s of states) topics.set(s.topic, [...(topics.get(s.topic) ?? []), s]);
    const topicIds = new Map([...topics.keys()].map((t) => [t, this.cluster.metadata.topics.get(t)?.topicId ?? null]));
    if (version >= FIRST_FETCH_VERSION_WITH_TOPIC_IDS && [...topicIds.values()].some((id) => id === null)) {
      version = FIRST_FETCH_VERSION_WITH_TOPIC_IDS - 1;
    }
    const requested = states.map((s) => ({ state: s, version: s.version, offset: s.position! }));
    const maxWaitMs = this.#options.fetchMaxWaitMs ?? 500;
    const response = await connection.send(
      FetchApi,
      {
        clusterId: null,
        replicaId: -1,
        replicaState: { replicaId: -1, replicaEpoch: -1n },
        maxWaitMs,
        minBytes: this.#options.fetchMinBytes ?? 1,
        maxBytes: this.#options.fetchMaxBytes ?? 52_428_800,
        isolationLevel: this.#readCommitted ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [...topics].map(([topic, list]) => ({
          topic,
          topicId: topicIds.get(topic) ?? ZERO_UUID,
          partitions: list.map((s) => ({
            partition: s.partition,
            currentLeaderEpoch: -1,
            fetchOffset: s.position!,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: this.#options.maxPartitionFetchBytes ?? 1_048_576,
            replicaDirectoryId: ZERO_UUID,
          })),
        })),
        forgottenTopicsData: [],
        rackId: '',
      },
      { version, timeoutMs: this.cluster.requestTimeoutMs + maxWaitMs },
    );
    if (response.errorCode !== ErrorCode.NONE)
      throw KafkaError.fromCode(response.errorCode, `Fetch from broker ${leader} failed`);
    let gotRecords = false;
    for (const t of response.responses) {
      const topic =
        version >= FIRST_FETCH_VERSION_WITH_TOPIC_IDS ? this.cluster.metadata.topicNameById(t.topicId) : t.topic;
      if (topic === undefined) continue;
      for (const p of t.partitions) {
        const req = requested.find((r) => r.state.topic === topic && r.state.partition === p.partitionIndex);
        if (req === undefined) continue;
        const s = req.state;
        const stale = () => s.version !== req.version || this.#assignment.get(tpKey(s.topic, s.partition)) !== s;
        if (stale()) continue;
        const where = `"${topic}-${p.partitionIndex}"`;
        if (p.errorCode !== ErrorCode.NONE) {
          if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
            const policy = this.#options.autoOffsetReset ?? 'latest';
            if (policy === 'none') {
              throw KafkaError.fromCode(p.errorCode, `Cannot fetch ${where} at offset ${req.offset}`);
            }
            this.cluster.logger.info(`Offset ${req.offset} of ${where} is out of range; resetting to ${policy}`);
            this.#moveTo(s, null, policy);
            continue;
          }
          const err = KafkaError.fromCode(p.errorCode, `Cannot fetch ${where}`);
          if (needsMetadataRefresh(p.errorCode)) this.cluster.refreshMetadata().catch(() => {});
          if (!err.retriable) throw err;
          continue;
        }
        s.highWatermark = p.highWatermark;
        s.lastStableOffset = p.lastStableOffset;
        s.logStartOffset = p.logStartOffset;
        const decoded = await decodeFetchedRecords(
          p.records,
          req.offset,
          this.#readCommitted,
          p.abortedTransactions,
          where,
        );
        if (stale()) continue;
        if (decoded.nextOffset > req.offset) s.position = decoded.nextOffset;
        if (decoded.records.length > 0) {
          s.buffer = decoded.records;
          s.bufferAt = 0;
          gotRecords = true;
        }
      }
    }
    if (gotRecords) this.#notifyRecords();
  }
}
