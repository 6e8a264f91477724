import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import { InitProducerIdRequest, InitProducerIdResponse } from '../../protocol/generated/messages/init-producer-id.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';
import { fencedErrorFor } from '../txn/coordinator.ts';

/**
 * InitProducerId v0–v5. Without a transactional id: a new producer id for an idempotent
 * producer. With one: the id's producer id and next epoch (fencing older producers). v3+
 * may name the producer id and epoch the client has (KIP-360); v4 is the first to hear
 * PRODUCER_FENCED; v5 only says the client understands TRANSACTION_ABORTABLE, which this
 * broker never sends. v0 stays advertised: old librdkafka enables idempotence only when it sees it.
 */
export function initProducerIdHandler(
  services: BrokerServices,
): ApiHandler<InitProducerIdRequest, InitProducerIdResponse> {
  return defineHandler(
    { request: InitProducerIdRequest, response: InitProducerIdResponse },
    { min: 0, max: 5 },
    async (req, ctx) => {
      const v = ctx.apiVersion;
      let expected: { producerId: bigint; producerEpoch: number } | null = null;
      if (v >= 3 && (req.producerId !== -1n || req.producerEpoch !== -1)) {
        if (req.producerId === -1n || req.producerEpoch === -1) {
          return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, producerId: -1n, producerEpoch: -1 };
        }
        expected = { producerId: req.producerId, producerEpoch: req.producerEpoch };
      }
      const result = await services.transactions.initProducerId(
        req.transactionalId,
        req.transactionTimeoutMs,
        expected,
      );
      return {
        throttleTimeMs: 0,
        errorCode: fencedErrorFor(result.errorCode, v, 4),
        producerId: result.producerId,
        producerEpoch: result.producerEpoch,
      };
    },
  );
}
