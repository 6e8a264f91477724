/**
 * Helpers for the idempotence and transaction tests: raw calls of the transaction APIs,
 * idempotent and transactional batches, kcat consumption with an isolation level, and a
 * free port for a broker that must come back on the same address after kill -9.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import {
  AddOffsetsToTxnRequest,
  AddOffsetsToTxnResponse,
} from '../../src/protocol/generated/messages/add-offsets-to-txn.ts';
import {
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnResponse,
} from '../../src/protocol/generated/messages/add-partitions-to-txn.ts';
import {
  DescribeProducersRequest,
  DescribeProducersResponse,
} from '../../src/protocol/generated/messages/describe-producers.ts';
import {
  DescribeTransactionsRequest,
  DescribeTransactionsResponse,
} from '../../src/protocol/generated/messages/describe-transactions.ts';
import { EndTxnRequest, EndTxnResponse } from '../../src/protocol/generated/messages/end-txn.ts';
import {
  FindCoordinatorRequest,
  FindCoordinatorResponse,
} from '../../src/protocol/generated/messages/find-coordinator.ts';
import {
  InitProducerIdRequest,
  InitProducerIdResponse,
} from '../../src/protocol/generated/messages/init-producer-id.ts';
import {
  ListTransactionsRequest,
  ListTransactionsResponse,
} from '../../src/protocol/generated/messages/list-transactions.ts';
import {
  TxnOffsetCommitRequest,
  TxnOffsetCommitResponse,
} from '../../src/protocol/generated/messages/txn-offset-commit.ts';
import {
  CONTROL_FLAG_MASK,
  createRecordBatch,
  decodeRecordBatches,
  encodeRecordBatchSync,
} from '../../src/protocol/records/index.ts';
import type { RawClient } from '../helpers/raw-client.ts';
import { runKcat } from '../interop/wire-checks.ts';

export const InitProducerId = { request: InitProducerIdRequest, response: InitProducerIdResponse };
export const AddPartitionsToTxn = { request: AddPartitionsToTxnRequest, response: AddPartitionsToTxnResponse };
export const AddOffsetsToTxn = { request: AddOffsetsToTxnRequest, response: AddOffsetsToTxnResponse };
export const TxnOffsetCommit = { request: TxnOffsetCommitRequest, response: TxnOffsetCommitResponse };
export const EndTxn = { request: EndTxnRequest, response: EndTxnResponse };
export const DescribeTransactions = { request: DescribeTransactionsRequest, response: DescribeTransactionsResponse };
export const ListTransactions = { request: ListTransactionsRequest, response: ListTransactionsResponse };
export const DescribeProducers = { request: DescribeProducersRequest, response: DescribeProducersResponse };
export const FindCoordinator = { request: FindCoordinatorRequest, response: FindCoordinatorResponse };

/** Broker config for these tests: small internal topics, so that they are created fast. */
export const TXN_TEST_CONFIG = {
  'offsets.topic.num.partitions': 3,
  'transaction.state.log.num.partitions': 3,
  'group.initial.rebalance.delay.ms': 0,
} as const;

/** The values of the data records of a fetched `records` field (control batches, such as markers, left out). */
export async function dataValues(records: Buffer | null): Promise<Array<string | null>> {
  if (records === null || records.length === 0) return [];
  const batches = await decodeRecordBatches(records);
  return batches
    .filter((b) => (b.attributes & CONTROL_FLAG_MASK) === 0)
    .flatMap((b) => b.records.map((r) => (r.value === null ? null : r.value.toString('utf8'))));
}

/** A batch of `values` from an idempotent or transactional producer. */
export function producerBatch(
  values: readonly string[],
  producer: { producerId: bigint; producerEpoch: number; baseSequence: number; transactional?: boolean },
): Buffer {
  return encodeRecordBatchSync(
    createRecordBatch(
      values.map((value) => ({ value })),
      {
        producerId: producer.producerId,
        producerEpoch: producer.producerEpoch,
        baseSequence: producer.baseSequence,
        isTransactional: producer.transactional ?? false,
      },
    ),
  );
}

export async function initProducerId(
  client: RawClient,
  options: {
    transactionalId?: string | null;
    timeoutMs?: number;
    version?: number;
    producerId?: bigint;
    producerEpoch?: number;
  } = {},
): Promise<InitProducerIdResponse> {
  const { body } = await client.request(InitProducerId, options.version ?? 4, {
    transactionalId: options.transactionalId ?? null,
    transactionTimeoutMs: options.timeoutMs ?? 60_000,
    producerId: options.producerId ?? -1n,
    producerEpoch: options.producerEpoch ?? -1,
  });
  return body;
}

/** InitProducerId with a transactional id, retried while an earlier transaction is being aborted. */
export async function initTransactional(
  client: RawClient,
  transactionalId: string,
  timeoutMs = 60_000,
): Promise<{ producerId: bigint; producerEpoch: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const r = await initProducerId(client, { transactionalId, timeoutMs });
    if (r.errorCode === ErrorCode.CONCURRENT_TRANSACTIONS) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    assert.equal(r.errorCode, ErrorCode.NONE, `InitProducerId failed with ${r.errorCode}`);
    return { producerId: r.producerId, producerEpoch: r.producerEpoch };
  }
  throw new Error('InitProducerId kept answering CONCURRENT_TRANSACTIONS');
}

/** AddPartitionsToTxn (v3 unless told); returns the error code of every partition, in order. */
export async function addPartitions(
  client: RawClient,
  transactionalId: string,
  producer: { producerId: bigint; producerEpoch: number },
  partitions: ReadonlyArray<{ topic: string; partition: number }>,
  version = 3,
): Promise<number[]> {
  const byTopic = new Map<string, number[]>();
  for (const p of partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
  const { body } = await client.request(AddPartitionsToTxn, version, {
    transactions: [],
    v3AndBelowTransactionalId: transactionalId,
    v3AndBelowProducerId: producer.producerId,
    v3AndBelowProducerEpoch: producer.producerEpoch,
    v3AndBelowTopics: [...byTopic].map(([name, ps]) => ({ name, partitions: ps })),
  });
  return body.resultsByTopicV3AndBelow.flatMap((t) => t.resultsByPartition.map((p) => p.partitionErrorCode));
}

export async function endTxn(
  client: RawClient,
  transactionalId: string,
  producer: { producerId: bigint; producerEpoch: number },
  committed: boolean,
  version = 3,
): Promise<number> {
  const { body } = await client.request(EndTxn, version, {
    transactionalId,
    producerId: producer.producerId,
    producerEpoch: producer.producerEpoch,
    committed,
  });
  return body.errorCode;
}

/** One record as kcat -J prints it. */
export interface KcatRecord {
  offset: number;
  partition: number;
  key: string | null;
  payload: string | null;
}

/** Every record of a topic (all partitions) kcat reads from the beginning with the given isolation level. */
export async function kcatConsume(
  bootstrap: string,
  topic: string,
  isolation: 'read_committed' | 'read_uncommitted',
): Promise<KcatRecord[]> {
  const args = ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-J', '-q'];
  const result = await runKcat([...args, '-X', `isolation.level=${isolation}`], '', 30_000);
  assert.ok(!result.timedOut && result.code === 0, `kcat -C failed (${result.code}): ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as KcatRecord);
}

/** A TCP port nothing listens on right now (for a broker that must restart on the same address). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Resolves `promise`, or rejects after `ms` (for client calls that may hang on a dead broker). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
