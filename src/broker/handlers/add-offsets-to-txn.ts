import {
  AddOffsetsToTxnRequest,
  AddOffsetsToTxnResponse,
} from '../../protocol/generated/messages/add-offsets-to-txn.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';
import { fencedErrorFor } from '../txn/coordinator.ts';

/**
 * AddOffsetsToTxn v0–v4: the consumer group's `__consumer_offsets` partition joins the
 * transaction, so that TxnOffsetCommit's offsets commit or abort with it. v2 is the first
 * to hear PRODUCER_FENCED; v4 only adds TRANSACTION_ABORTABLE, never sent here.
 */
export function addOffsetsToTxnHandler(
  services: BrokerServices,
): ApiHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> {
  return defineHandler(
    { request: AddOffsetsToTxnRequest, response: AddOffsetsToTxnResponse },
    { min: 0, max: 4 },
    async (req, ctx) => {
      const errorCode = await services.transactions.addOffsets(
        req.transactionalId,
        req.producerId,
        req.producerEpoch,
        req.groupId,
      );
      return { throttleTimeMs: 0, errorCode: fencedErrorFor(errorCode, ctx.apiVersion, 2) };
    },
  );
}
