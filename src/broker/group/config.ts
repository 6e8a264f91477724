import type { BrokerConfig } from '../config.ts';

/** Names the server-side assignors answer to (Kafka's short names). */
export const SERVER_ASSIGNORS = ['uniform', 'range'] as const;
export type ServerAssignorName = (typeof SERVER_ASSIGNORS)[number];

/** The group coordinator's settings, under Kafka's broker config keys. */
export interface GroupCoordinatorConfig {
  /** offsets.topic.num.partitions */
  offsetsTopicPartitions: number;
  /** offsets.topic.segment.bytes */
  offsetsTopicSegmentBytes: number;
  /** offsets.retention.minutes, in ms */
  offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms */
  offsetsRetentionCheckIntervalMs: number;
  /** offset.metadata.max.bytes */
  offsetMetadataMaxBytes: number;
  /** group.initial.rebalance.delay.ms */
  initialRebalanceDelayMs: number;
  /** group.min.session.timeout.ms */
  minSessionTimeoutMs: number;
  /** group.max.session.timeout.ms */
  maxSessionTimeoutMs: number;
  /** group.max.size */
  maxGroupSize: number;
  /** group.consumer.session.timeout.ms */
  consumerSessionTimeoutMs: number;
  /** group.consumer.heartbeat.interval.ms */
  consumerHeartbeatIntervalMs: number;
  /** group.consumer.max.size */
  consumerMaxGroupSize: number;
  /** group.consumer.assignors: the first is the default. */
  consumerAssignors: ServerAssignorName[];
}

const INT_MAX = 0x7fffffff;

/** Reads the group settings; keys the broker config does not define take Kafka's defaults. */
export function groupCoordinatorConfig(config: BrokerConfig): GroupCoordinatorConfig {
  const int = (key: string, fallback: number): number => {
    const v = config.get(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`Config "${key}" must be a number, got "${v}"`);
    return n;
  };
  const assignors = (config.get('group.consumer.assignors') ?? 'uniform,range')
    .split(',')
    .map((s) => shortAssignorName(s.trim()))
    .filter((s): s is ServerAssignorName => s !== null);
  return {
    offsetsTopicPartitions: int('offsets.topic.num.partitions', 50),
    offsetsTopicSegmentBytes: int('offsets.topic.segment.bytes', 104_857_600),
    offsetsRetentionMs: int('offsets.retention.minutes', 10_080) * 60_000,
    offsetsRetentionCheckIntervalMs: int('offsets.retention.check.interval.ms', 600_000),
    offsetMetadataMaxBytes: int('offset.metadata.max.bytes', 4096),
    initialRebalanceDelayMs: int('group.initial.rebalance.delay.ms', 3000),
    minSessionTimeoutMs: int('group.min.session.timeout.ms', 6000),
    maxSessionTimeoutMs: int('group.max.session.timeout.ms', 1_800_000),
    maxGroupSize: int('group.max.size', INT_MAX),
    consumerSessionTimeoutMs: int('group.consumer.session.timeout.ms', 45_000),
    consumerHeartbeatIntervalMs: int('group.consumer.heartbeat.interval.ms', 5000),
    consumerMaxGroupSize: int('group.consumer.max.size', INT_MAX),
    consumerAssignors: assignors.length > 0 ? assignors : ['uniform', 'range'],
  };
}

/** `uniform`, `range`, or Kafka's class names for them; null for anything else. */
export function shortAssignorName(name: string): ServerAssignorName | null {
  const lower = name.toLowerCase();
  if (lower === 'uniform' || lower.endsWith('.uniformassignor')) return 'uniform';
  if (lower === 'range' || lower.endsWith('.rangeassignor')) return 'range';
  return null;
}
