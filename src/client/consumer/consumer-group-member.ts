import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse,
  type ConsumerGroupHeartbeatResponse as HeartbeatResponseMessage,
} from '../../protocol/generated/messages/consumer-group-heartbeat.ts';
import { defineApi } from '../api.ts';
import { backoffDelay, sleep } from '../backoff.ts';
import { type Cluster, CoordinatorType } from '../cluster.ts';
import { KafkaError } from '../errors.ts';
import { type TopicPartition, tpKey } from '../metadata.ts';
import type { GroupMemberContext } from '../offsets.ts';
import type { GroupMembership, MembershipListener } from './membership.ts';

export const ConsumerGroupHeartbeatApi = defineApi(ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, {
  min: 0,
  max: 1,
});

export interface ConsumerGroupMemberOptions {
  groupId: string;
  groupInstanceId: string | null;
  rebalanceTimeoutMs: number;
  /** Server-side assignor (`uniform`, `range`), or null for the broker's default. */
  serverAssignor: string | null;
}

const LEAVE_EPOCH = -1;
const STATIC_LEAVE_EPOCH = -2;

/** Errors after which the member rejoins with epoch 0, its partitions lost. */
const FENCED: ReadonlySet<number> = new Set([ErrorCode.FENCED_MEMBER_EPOCH, ErrorCode.UNKNOWN_MEMBER_ID]);

/** A member id the way Kafka prints a Uuid: 16 random bytes, URL-safe base64. */
function newMemberId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Membership of a KIP-848 consumer group: one heartbeat carries the subscription, the
 * broker computes assignments, and the member reconciles: it revokes (committing first)
 * what it no longer owns, takes what is new, and acknowledges in the next heartbeat. The
 * heartbeat runs on its own timer, independent of record processing.
 */
export class ConsumerGroupMember implements GroupMembership {
  readonly protocol = 'consumer' as const;
  readonly #cluster: Cluster;
  readonly #options: ConsumerGroupMemberOptions;
  readonly #listener: MembershipListener;
  #topics: string[] = [];
  #memberId = newMemberId();
  #memberEpoch = 0;
  #intervalMs = 3_000;
  #owned: TopicPartition[] = [];
  /** Send the full state (subscription, owned partitions) in the next heartbeat. */
  #sendFull = true;
  #sendOwned = true;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  readonly #stop = new AbortController();

  constructor(cluster: Cluster, options: ConsumerGroupMemberOptions, listener: MembershipListener) {
    this.#cluster = cluster;
    this.#options = options;
    this.#listener = listener;
  }

  get member(): GroupMemberContext {
    return {
      generationIdOrMemberEpoch: this.#memberEpoch,
      memberId: this.#memberId,
      groupInstanceId: this.#options.groupInstanceId,
    };
  }

  get owned(): readonly TopicPartition[] {
    return this.#owned;
  }

  start(topics: readonly string[]): void {
    this.#topics = [...topics];
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  updateSubscription(topics: readonly string[]): void {
    this.#topics = [...topics];
    this.#sendFull = true;
    this.#wake?.();
  }

  requestRejoin(): void {
    this.#sendFull = true;
    this.#wake?.();
  }

  async stop(leave: boolean): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stop.abort();
    this.#wake?.();
    await this.#loop?.catch(() => {});
    if (!leave) return;
    const owned = this.#owned;
    this.#owned = [];
    if (owned.length > 0) await this.#listener.revoked(owned).catch(() => {});
    const epoch = this.#options.groupInstanceId !== null ? STATIC_LEAVE_EPOCH : LEAVE_EPOCH;
    await this.#send(epoch, { timeoutMs: 5_000 }).catch(() => {});
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#running) {
      try {
        const response = await this.#send(this.#memberEpoch);
        failures = 0;
        await this.#onResponse(response);
        if (this.#sendOwned || this.#sendFull) continue;
        await this.#idle(this.#intervalMs);
      } catch (err) {
        if (!this.#running) break;
        if (err instanceof KafkaError && !err.retriable && !(err.errorCode !== null && FENCED.has(err.errorCode))) {
          this.#listener.fatal(err);
          this.#running = false;
          break;
        }
        await sleep(backoffDelay(failures++, this.#cluster.retryBackoff), this.#stop.signal);
      }
    }
  }

  #idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #send(epoch: number, options: { timeoutMs?: number } = {}): Promise<HeartbeatResponseMessage> {
    const groupId = this.#options.groupId;
    const full = this.#sendFull || epoch === 0;
    const owned = this.#sendOwned || full;
    let topicPartitions: Array<{ topicId: string; partitions: number[] }> | null = null;
    if (owned) {
      const byTopic = new Map<string, number[]>();
      for (const tp of this.#owned) {
        const id = this.#cluster.metadata.topics.get(tp.topic)?.topicId;
        if (id) byTopic.set(id, [...(byTopic.get(id) ?? []), tp.partition]);
      }
      topicPartitions = [...byTopic].map(([topicId, partitions]) => ({ topicId, partitions }));
    }
    const connection = await this.#cluster.coordinator(CoordinatorType.GROUP, groupId);
    const response = await connection.send(
      ConsumerGroupHeartbeatApi,
      {
        groupId,
        memberId: this.#memberId,
        memberEpoch: epoch,
        instanceId: full ? this.#options.groupInstanceId : null,
        rackId: null,
        rebalanceTimeoutMs: full ? this.#options.rebalanceTimeoutMs : -1,
        subscribedTopicNames: full ? this.#topics : null,
        subscribedTopicRegex: null,
        serverAssignor: full ? this.#options.serverAssignor : null,
        topicPartitions,
      },
      { timeoutMs: options.timeoutMs },
    );
    if (response.errorCode !== ErrorCode.NONE) {
      this.#cluster.onCoordinatorError(CoordinatorType.GROUP, groupId, response.errorCode);
      if (FENCED.has(response.errorCode)) {
        this.#memberEpoch = 0;
        this.#sendFull = true;
        const lost = this.#owned;
        this.#owned = [];
        if (lost.length > 0) this.#listener.lost(lost);
      }
      throw KafkaError.fromCode(
        response.errorCode,
        `Heartbeat of consumer group "${groupId}" failed`,
        response.errorMessage,
      );
    }
    if (full) this.#sendFull = false;
    if (owned) this.#sendOwned = false;
    return response;
  }

  async #onResponse(response: HeartbeatResponseMessage): Promise<void> {
    if (response.memberId) this.#memberId = response.memberId;
    this.#memberEpoch = response.memberEpoch;
    if (response.heartbeatIntervalMs > 0) this.#intervalMs = response.heartbeatIntervalMs;
    if (response.assignment === null) return;
    const target: TopicPartition[] = [];
    for (const t of response.assignment.topicPartitions) {
      let name = this.#cluster.metadata.topicNameById(t.topicId);
      if (name === undefined) {
        await this.#cluster.refreshMetadata(this.#topics);
        name = this.#cluster.metadata.topicNameById(t.topicId);
      }
      if (name === undefined) {
        // Not in metadata yet (just created): ask again soon, with a full heartbeat.
        this.#sendFull = true;
        continue;
      }
      for (const partition of t.partitions) target.push({ topic: name, partition });
    }
    const after = new Set(target.map((tp) => tpKey(tp.topic, tp.partition)));
    const before = new Set(this.#owned.map((tp) => tpKey(tp.topic, tp.partition)));
    const revoked = this.#owned.filter((tp) => !after.has(tpKey(tp.topic, tp.partition)));
    const added = target.filter((tp) => !before.has(tpKey(tp.topic, tp.partition)));
    if (revoked.length === 0 && added.length === 0) return;
    if (revoked.length > 0) {
      this.#owned = this.#owned.filter((tp) => after.has(tpKey(tp.topic, tp.partition)));
      await this.#listener.revoked(revoked);
    }
    this.#owned = target;
    if (added.length > 0) this.#listener.assigned(added);
    this.#sendOwned = true;
  }
}
