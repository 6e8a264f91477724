import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  DescribeProducersRequest,
  DescribeProducersResponse,
  type DescribeProducersResponsePartitionResponse,
} from '../../protocol/generated/messages/describe-producers.ts';
import { lastSequenceOf } from '../../storage/producer-state.ts';
import { apiErrorOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * DescribeProducers v0: the idempotent and transactional producers each partition keeps
 * state for: epoch, last sequence, last timestamp, coordinator epoch and the start of an
 * open transaction (-1 when none).
 */
export function describeProducersHandler(
  services: BrokerServices,
): ApiHandler<DescribeProducersRequest, DescribeProducersResponse> {
  const { replicas, logger } = services;
  return defineHandler(
    { request: DescribeProducersRequest, response: DescribeProducersResponse },
    { min: 0, max: 0 },
    (req) => ({
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex): DescribeProducersResponsePartitionResponse => {
          try {
            const { producerState } = replicas.partition(t.name, partitionIndex).log;
            return {
              partitionIndex,
              errorCode: ErrorCode.NONE,
              errorMessage: null,
              activeProducers: [...producerState.producers.values()].map((e) => ({
                producerId: e.producerId,
                producerEpoch: e.producerEpoch,
                lastSequence: lastSequenceOf(e),
                lastTimestamp: BigInt(e.lastTimestamp),
                coordinatorEpoch: e.coordinatorEpoch,
                currentTxnStartOffset: e.currentTxnFirstOffset,
              })),
            };
          } catch (err) {
            return { partitionIndex, ...apiErrorOf(err, logger, 'DescribeProducers'), activeProducers: [] };
          }
        }),
      })),
    }),
  );
}
