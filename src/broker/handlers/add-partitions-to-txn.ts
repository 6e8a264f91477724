import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnResponse,
  type AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult,
} from '../../protocol/generated/messages/add-partitions-to-txn.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';
import { fencedErrorFor } from '../txn/coordinator.ts';

/**
 * AddPartitionsToTxn v0–v3, the versions clients send. v4+ (batched, VerifyOnly) is
 * broker-to-broker (KIP-890) and not advertised. As Kafka: a partition that does not exist
 * fails the whole request (UNKNOWN_TOPIC_OR_PARTITION for it, OPERATION_NOT_ATTEMPTED for
 * the others); otherwise the coordinator's answer goes to every partition. v2 is the first
 * to hear PRODUCER_FENCED.
 */
export function addPartitionsToTxnHandler(
  services: BrokerServices,
): ApiHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> {
  const { transactions } = services;
  return defineHandler(
    { request: AddPartitionsToTxnRequest, response: AddPartitionsToTxnResponse },
    { min: 0, max: 3 },
    async (req, ctx) => {
      const topics = req.v3AndBelowTopics;
      const missing = new Set<string>();
      for (const t of topics) {
        for (const p of t.partitions) if (!transactions.partitionExists(t.name, p)) missing.add(`${t.name}\u0000${p}`);
      }
      const answer = (code: (topic: string, partition: number) => number) => ({
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        resultsByTransaction: [],
        resultsByTopicV3AndBelow: topics.map(
          (t): AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult => ({
            name: t.name,
            resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: code(t.name, p) })),
          }),
        ),
      });
      if (missing.size > 0) {
        return answer((topic, partition) =>
          missing.has(`${topic}\u0000${partition}`)
            ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            : ErrorCode.OPERATION_NOT_ATTEMPTED,
        );
      }
      const errorCode = await transactions.addPartitions(
        req.v3AndBelowTransactionalId,
        req.v3AndBelowProducerId,
        req.v3AndBelowProducerEpoch,
        topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition }))),
      );
      const mapped = fencedErrorFor(errorCode, ctx.apiVersion, 2);
      return answer(() => mapped);
    },
  );
}
