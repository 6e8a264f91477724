import type { AppendInfo, Log } from '../../storage/log.ts';
import type { AppendOrigin } from '../../storage/producer-state.ts';
import { FencedLeaderEpochError, UnknownLeaderEpochError } from './replica-errors.ts';

/**
 * The leader epoch every partition has on a single node. Metadata reports it, appends stamp
 * it into each batch's partitionLeaderEpoch, and fencing checks compare against it. Cluster
 * mode will replace it with the epoch the controller assigns.
 */
export const SINGLE_NODE_LEADER_EPOCH = 0;

/** Kafka's "no epoch" / "no offset" answer to an end-offset-for-epoch lookup. */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1n;

/** One entry of the leader epoch cache: the first offset written in that epoch. */
export interface EpochEntry {
  epoch: number;
  startOffset: bigint;
}

export interface EpochEndOffset {
  leaderEpoch: number;
  endOffset: bigint;
}

/**
 * A partition this broker leads: its log, its leader epoch and the in-sync replicas. It is
 * the place replication will grow into (follower state, ISR changes, a high watermark that
 * waits for followers); on one node the ISR is this broker alone.
 *
 * Appends keep request order. Handlers start appends synchronously in the order requests
 * arrive on a connection, and Log queues them in call order, so the usual path (checks
 * that need no await) goes straight to the log. When a produce needs an await before its
 * bytes are ready (records decoded for a topic config, zstd), it and every append after it
 * wait in a small queue until the earlier ones are queued in the log, never for their
 * fsync.
 */
export class Partition {
  readonly topic: string;
  readonly partition: number;
  readonly log: Log;
  readonly leaderEpoch = SINGLE_NODE_LEADER_EPOCH;
  /** Replica ids in sync with the leader; this node only until replication exists. */
  readonly isr: readonly number[];
  /** Appends whose bytes are not in the log's queue yet. */
  #preparing = 0;
  /** Settles once the last such append reached the log's queue; never rejects. */
  #prepared: Promise<unknown> = Promise.resolve();

  constructor(topic: string, partition: number, log: Log, nodeId: number) {
    this.topic = topic;
    this.partition = partition;
    this.log = log;
    this.isr = [nodeId];
  }

  get label(): string {
    return this.log.label;
  }

  /**
   * Appends what `prepare` returns (validated bytes, or a promise of them) as leader, after
   * every append started before this one. Resolves when the log acknowledges: with the
   * default config, after fdatasync. `origin` says which producer-state checks apply
   * ('coordinator' for the broker's own transactional writes and markers).
   */
  append(prepare: () => Buffer | Promise<Buffer>, origin: AppendOrigin = 'client'): Promise<AppendInfo> {
    if (this.#preparing === 0) {
      let prepared: Buffer | Promise<Buffer>;
      try {
        prepared = prepare();
      } catch (err) {
        return Promise.reject(err);
      }
      if (!(prepared instanceof Promise)) return this.#appendToLog(prepared, origin);
      return this.#queue(prepared, origin);
    }
    return this.#queue(this.#prepared.then(prepare), origin);
  }

  #queue(prepared: Promise<Buffer>, origin: AppendOrigin): Promise<AppendInfo> {
    this.#preparing++;
    // Wrapped in an object so that the append's own promise is not awaited here: the next
    // append waits for this one to be queued in the log, not for it to be durable.
    const queued = prepared.then((records) => ({ done: this.#appendToLog(records, origin) }));
    this.#prepared = queued.then(
      () => this.#preparing--,
      () => this.#preparing--,
    );
    return queued.then((q) => q.done);
  }

  #appendToLog(records: Buffer, origin: AppendOrigin): Promise<AppendInfo> {
    return this.log.appendAsLeader(records, { leaderEpoch: this.leaderEpoch, origin });
  }

  /**
   * KIP-320 fencing: a client that sends the leader epoch it knows (-1 means it does not
   * say) must agree with ours. Older means its metadata is stale; newer means ours is.
   */
  checkLeaderEpoch(currentLeaderEpoch: number): void {
    if (currentLeaderEpoch === -1 || currentLeaderEpoch === this.leaderEpoch) return;
    if (currentLeaderEpoch < this.leaderEpoch) {
      throw new FencedLeaderEpochError(
        `Leader epoch ${currentLeaderEpoch} of "${this.label}" is older than the current ${this.leaderEpoch}`,
      );
    }
    throw new UnknownLeaderEpochError(
      `Leader epoch ${currentLeaderEpoch} of "${this.label}" is newer than the current ${this.leaderEpoch}`,
    );
  }

  /**
   * The leader epoch cache, oldest first. A single node has only ever had epoch 0, and it
   * covers the log from its start.
   */
  epochEntries(): EpochEntry[] {
    return [{ epoch: this.leaderEpoch, startOffset: this.log.logStartOffset }];
  }

  /**
   * Kafka's LeaderEpochFileCache.endOffsetFor: the end offset of `requestedEpoch` (the log
   * end offset for the current epoch, else the start of the next known epoch) and the
   * largest known epoch at or below it. Unknown epochs answer (-1, -1).
   */
  endOffsetForEpoch(requestedEpoch: number): EpochEndOffset {
    const entries = this.epochEntries();
    const latest = entries[entries.length - 1];
    if (requestedEpoch === UNDEFINED_EPOCH || latest === undefined) {
      return { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    }
    if (requestedEpoch === latest.epoch) return { leaderEpoch: requestedEpoch, endOffset: this.log.logEndOffset };
    const higher = entries.find((e) => e.epoch > requestedEpoch);
    if (higher === undefined) return { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    const floor = entries.filter((e) => e.epoch <= requestedEpoch).pop();
    if (floor === undefined) return { leaderEpoch: requestedEpoch, endOffset: higher.startOffset };
    return { leaderEpoch: floor.epoch, endOffset: higher.startOffset };
  }
}
