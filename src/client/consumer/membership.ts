import type { TopicPartition } from '../metadata.ts';
import type { GroupMemberContext } from '../offsets.ts';

/** What a group membership tells the consumer: partitions come, go in order, or are lost. */
export interface MembershipListener {
  /** Partitions now owned. */
  assigned(partitions: TopicPartition[]): void;
  /** Partitions to give up in order; the consumer commits them before this resolves. */
  revoked(partitions: TopicPartition[]): Promise<void>;
  /** Partitions already taken away (session expired, fenced): nothing may be committed for them. */
  lost(partitions: TopicPartition[]): void;
  /** A failure the application must see (fenced static member, authorization, bad config). */
  fatal(err: Error): void;
}

/** A consumer's membership of its group, by either protocol. */
export interface GroupMembership {
  readonly protocol: 'classic' | 'consumer';
  /** Identity for OffsetCommit: generation (classic) or member epoch (KIP-848). */
  readonly member: GroupMemberContext;
  /** Generation/epoch and ids for sendOffsetsToTransaction. */
  start(topics: readonly string[]): void;
  /** The subscription changed; the group hears of it on the next heartbeat or join. */
  updateSubscription(topics: readonly string[]): void;
  /** Leaves the group (unless `leave` is false) and stops heartbeating. */
  stop(leave: boolean): Promise<void>;
  /** Asks for a rebalance at the next opportunity (a commit said the generation is stale). */
  requestRejoin(): void;
}
