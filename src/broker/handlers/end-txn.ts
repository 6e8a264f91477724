import { EndTxnRequest, EndTxnResponse } from '../../protocol/generated/messages/end-txn.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';
import { fencedErrorFor } from '../txn/coordinator.ts';

/**
 * EndTxn v0–v4: commit or abort; answered once the markers are in every partition of the
 * transaction. v2 is the first to hear PRODUCER_FENCED. v5 (an epoch bump with every
 * transaction, KIP-890 part 2) is not implemented and not advertised.
 */
export function endTxnHandler(services: BrokerServices): ApiHandler<EndTxnRequest, EndTxnResponse> {
  return defineHandler({ request: EndTxnRequest, response: EndTxnResponse }, { min: 0, max: 4 }, async (req, ctx) => {
    const errorCode = await services.transactions.endTxn(
      req.transactionalId,
      req.producerId,
      req.producerEpoch,
      req.committed,
    );
    return {
      throttleTimeMs: 0,
      errorCode: fencedErrorFor(errorCode, ctx.apiVersion, 2),
      producerId: -1n,
      producerEpoch: -1,
    };
  });
}
