import {
  ListTransactionsRequest,
  ListTransactionsResponse,
} from '../../protocol/generated/messages/list-transactions.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/** ListTransactions v0–v1: transactional ids filtered by state and producer id, and (v1) by how long they have run. */
export function listTransactionsHandler(
  services: BrokerServices,
): ApiHandler<ListTransactionsRequest, ListTransactionsResponse> {
  return defineHandler(
    { request: ListTransactionsRequest, response: ListTransactionsResponse },
    { min: 0, max: 1 },
    (req, ctx) => ({
      throttleTimeMs: 0,
      ...services.transactions.listTransactions(
        req.stateFilters,
        req.producerIdFilters,
        ctx.apiVersion >= 1 ? req.durationFilter : -1n,
      ),
    }),
  );
}
