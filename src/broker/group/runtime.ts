import type { Logger } from '../logger.ts';
import type { TopicManager } from '../services/topic-manager.ts';
import type { ClassicGroup } from './classic-group.ts';
import type { GroupCoordinatorConfig } from './config.ts';
import type { ConsumerGroup } from './consumer-group.ts';
import type { OffsetStore } from './offsets.ts';
import type { GroupRecord } from './records.ts';
import type { Timer } from './timers.ts';

export type AnyGroup = ClassicGroup | ConsumerGroup;

/**
 * What the classic and consumer group logic share: the group registry, the offsets, the
 * clock, timers that run in a group's serial queue, and the durable write. Every function
 * taking a runtime assumes it runs inside the serial queue of the group it touches.
 */
export interface GroupRuntime {
  readonly config: GroupCoordinatorConfig;
  readonly logger: Logger;
  readonly topics: TopicManager;
  readonly groups: Map<string, AnyGroup>;
  readonly offsets: OffsetStore;
  now(): number;
  /** Runs `task` in the group's serial queue after `delayMs` (unref'd, cleared on close). */
  schedule(groupId: string, delayMs: number, task: () => unknown): Timer;
  /** Appends records for the group to its `__consumer_offsets` partition; resolves once durable. */
  write(groupId: string, records: GroupRecord[]): Promise<void>;
  /** The error code a failed write turns into (Kafka's mapping of append errors). */
  writeErrorCode(err: unknown, forOffsets: boolean): number;
}
