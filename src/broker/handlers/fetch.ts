import { ZERO_UUID } from '../../protocol/codec.ts';
import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  FetchRequest,
  FetchResponse,
  type FetchResponseFetchableTopicResponse,
  type FetchResponsePartitionData,
} from '../../protocol/generated/messages/fetch.ts';
import { errorCodeOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import { RateLimitedLog } from '../logger.ts';
import type { FetchContext, FetchResponsePartition } from '../services/fetch-sessions.ts';
import type { FetchPartition } from '../services/replica-manager.ts';
import type { BrokerServices } from '../services.ts';

const NO_DIVERGING_EPOCH = { epoch: -1, endOffset: -1n } as const;
const NO_CURRENT_LEADER = { leaderId: -1, leaderEpoch: -1 } as const;
const NO_SNAPSHOT_ID = { endOffset: -1n, epoch: -1 } as const;

/**
 * Fetch v4–v16. v4 is the first version with record batches (magic 2), which librdkafka 2.0
 * needs to see advertised before it produces them; v13+ names topics by id; v7+ can use
 * incremental fetch sessions (KIP-227). Reads wait up to max_wait_ms for min_bytes (long
 * poll) in the replica manager; the session cache decides which partitions are read and
 * which are answered.
 */
export function fetchHandler(services: BrokerServices): ApiHandler<FetchRequest, FetchResponse> {
  const { replicas, fetchSessions, topics, logger } = services;
  // Consumers retry a failing partition in a loop: one line per fault, not one per fetch.
  const faults = new RateLimitedLog(logger);

  return defineHandler({ request: FetchRequest, response: FetchResponse }, { min: 4, max: 16 }, async (req, ctx) => {
    const version = ctx.apiVersion;
    const usesTopicIds = version >= 13;
    const nameOf = (topic: { topic: string; topicId: string }): string | null =>
      usesTopicIds ? (topics.getById(topic.topicId)?.name ?? null) : topic.topic;
    const partitions: FetchPartition[] = [];
    for (const topic of req.topics) {
      const name = nameOf(topic);
      for (const p of topic.partitions) {
        partitions.push({
          topic: name,
          topicId: usesTopicIds ? topic.topicId : ZERO_UUID,
          partition: p.partition,
          fetchOffset: p.fetchOffset,
          partitionMaxBytes: p.partitionMaxBytes,
          currentLeaderEpoch: p.currentLeaderEpoch,
          lastFetchedEpoch: p.lastFetchedEpoch,
          logStartOffset: p.logStartOffset,
        });
      }
    }
    let context: FetchContext;
    try {
      context = fetchSessions.newContext({
        // Before v7 there are no sessions: every fetch is a full one.
        sessionId: version >= 7 ? req.sessionId : 0,
        sessionEpoch: version >= 7 ? req.sessionEpoch : -1,
        usesTopicIds,
        partitions,
        forgotten: req.forgottenTopicsData.map((f) => ({
          topicId: usesTopicIds ? f.topicId : ZERO_UUID,
          topic: usesTopicIds ? (nameOf(f) ?? '') : f.topic,
          partitions: f.partitions,
        })),
      });
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: errorCodeOf(err), sessionId: 0, responses: [], nodeEndpoints: [] };
    }
    const results = await replicas.fetch(
      {
        replicaId: version >= 15 ? req.replicaState.replicaId : req.replicaId,
        maxWaitMs: req.maxWaitMs,
        minBytes: req.minBytes,
        maxBytes: req.maxBytes,
        isolationLevel: req.isolationLevel === 1 ? 'read_committed' : 'read_uncommitted',
        apiVersion: version,
      },
      context.partitions,
    );
    const answer = context.respond(results);
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      sessionId: answer.sessionId,
      responses: groupByTopic(answer.partitions, usesTopicIds, (p) => toPartitionData(p, logger, faults)),
      nodeEndpoints: [],
    };
  });
}

function toPartitionData(
  { partition, result }: FetchResponsePartition,
  logger: BrokerServices['logger'],
  faults: RateLimitedLog,
): FetchResponsePartitionData {
  const errorCode = result.error === null ? ErrorCode.NONE : errorCodeOf(result.error);
  if (errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) logger.error({ err: result.error }, 'Fetch failed unexpectedly');
  else if (errorCode === ErrorCode.CORRUPT_MESSAGE || errorCode === ErrorCode.KAFKA_STORAGE_ERROR) {
    const message = (result.error as Error).message;
    faults.warn(message, { topic: partition.topic, partition: partition.partition }, message);
  }
  return {
    partitionIndex: partition.partition,
    errorCode,
    highWatermark: result.highWatermark,
    lastStableOffset: result.lastStableOffset,
    logStartOffset: result.logStartOffset,
    divergingEpoch:
      result.divergingEpoch === null
        ? NO_DIVERGING_EPOCH
        : { epoch: result.divergingEpoch.leaderEpoch, endOffset: result.divergingEpoch.endOffset },
    currentLeader: NO_CURRENT_LEADER,
    snapshotId: NO_SNAPSHOT_ID,
    abortedTransactions: result.abortedTransactions,
    preferredReadReplica: -1,
    records: result.records,
  };
}

/** One entry per topic, in the order topics first appear; by id from v13, by name before. */
function groupByTopic(
  partitions: readonly FetchResponsePartition[],
  usesTopicIds: boolean,
  toData: (p: FetchResponsePartition) => FetchResponsePartitionData,
): FetchResponseFetchableTopicResponse[] {
  const byTopic = new Map<string, FetchResponseFetchableTopicResponse>();
  for (const p of partitions) {
    const key = usesTopicIds ? p.partition.topicId : (p.partition.topic ?? '');
    let topic = byTopic.get(key);
    if (topic === undefined) {
      topic = { topic: p.partition.topic ?? '', topicId: p.partition.topicId, partitions: [] };
      byTopic.set(key, topic);
    }
    topic.partitions.push(toData(p));
  }
  return [...byTopic.values()];
}
