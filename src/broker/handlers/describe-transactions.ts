import {
  DescribeTransactionsRequest,
  DescribeTransactionsResponse,
} from '../../protocol/generated/messages/describe-transactions.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/** DescribeTransactions v0: state, producer, timeout, start time and partitions of each transactional id. */
export function describeTransactionsHandler(
  services: BrokerServices,
): ApiHandler<DescribeTransactionsRequest, DescribeTransactionsResponse> {
  return defineHandler(
    { request: DescribeTransactionsRequest, response: DescribeTransactionsResponse },
    { min: 0, max: 0 },
    (req) => ({
      throttleTimeMs: 0,
      transactionStates: services.transactions.describeTransactions(req.transactionalIds),
    }),
  );
}
