/**
 * Helpers for the data-path tests: building batches, raw Produce/Fetch/ListOffsets calls,
 * reading a partition back, and kcat with the CI rule (skip loudly locally, fail on CI).
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { StartedBroker } from '../../../src/broker/start-broker.ts';
import { ZERO_UUID } from '../../../src/protocol/codec.ts';
import { ErrorCode } from '../../../src/protocol/generated/error-codes.ts';
import { FetchRequest, FetchResponse } from '../../../src/protocol/generated/messages/fetch.ts';
import { ListOffsetsRequest, ListOffsetsResponse } from '../../../src/protocol/generated/messages/list-offsets.ts';
import {
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
} from '../../../src/protocol/generated/messages/offset-for-leader-epoch.ts';
import {
  ProduceRequest,
  ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
} from '../../../src/protocol/generated/messages/produce.ts';
import {
  type CompressionCodec,
  type CreateRecordBatchOptions,
  createRecordBatch,
  decodeRecordBatches,
  encodeRecordBatch,
  type RecordInput,
  recordOffset,
  recordTimestamp,
} from '../../../src/protocol/records/index.ts';
import type { RawClient } from '../../helpers/raw-client.ts';
import { kcatInstalled } from '../../interop/wire-checks.ts';

export const Produce = { request: ProduceRequest, response: ProduceResponse };
export const Fetch = { request: FetchRequest, response: FetchResponse };
export const ListOffsets = { request: ListOffsetsRequest, response: ListOffsetsResponse };
export const OffsetForLeaderEpoch = { request: OffsetForLeaderEpochRequest, response: OffsetForLeaderEpochResponse };

/** A magic-2 batch as a producer sends it (base offset 0, no producer id unless given). */
export async function batchOf(
  records: readonly RecordInput[],
  options: CreateRecordBatchOptions & { compression?: CompressionCodec } = {},
): Promise<Buffer> {
  return encodeRecordBatch(createRecordBatch(records, options));
}

/** One Produce request with one partition; returns that partition's response. */
export async function produceRaw(
  client: RawClient,
  topic: string,
  partition: number,
  records: Buffer | null,
  options: { version?: number; acks?: number } = {},
): Promise<ProduceResponsePartitionProduceResponse> {
  const version = options.version ?? 9;
  const { body } = await client.request(Produce, version, {
    transactionalId: null,
    acks: options.acks ?? -1,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  assert.equal(body.responses.length, 1);
  assert.equal(body.responses[0]!.partitionResponses.length, 1);
  return body.responses[0]!.partitionResponses[0]!;
}

/** Produces and asserts success; returns the base offset. */
export async function produceOk(
  client: RawClient,
  topic: string,
  partition: number,
  records: Buffer,
  version = 9,
): Promise<bigint> {
  const response = await produceRaw(client, topic, partition, records, { version });
  assert.equal(response.errorCode, ErrorCode.NONE, `produce failed: ${response.errorMessage}`);
  return response.baseOffset;
}

export interface FetchPartitionSpec {
  topic: string;
  topicId?: string;
  partition?: number;
  fetchOffset?: bigint;
  partitionMaxBytes?: number;
  currentLeaderEpoch?: number;
  lastFetchedEpoch?: number;
}

export interface FetchOptions {
  version?: number;
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  isolationLevel?: number;
  sessionId?: number;
  sessionEpoch?: number;
  forgotten?: Array<{ topic: string; topicId?: string; partitions: number[] }>;
}

/** A Fetch request body for the given partitions (grouped by topic, in order). */
export function fetchBody(partitions: readonly FetchPartitionSpec[], options: FetchOptions = {}): FetchRequest {
  const topics: FetchRequest['topics'] = [];
  for (const p of partitions) {
    const topicId = p.topicId ?? ZERO_UUID;
    let topic = topics.find((t) => t.topic === p.topic && t.topicId === topicId);
    if (!topic) {
      topic = { topic: p.topic, topicId, partitions: [] };
      topics.push(topic);
    }
    topic.partitions.push({
      partition: p.partition ?? 0,
      currentLeaderEpoch: p.currentLeaderEpoch ?? -1,
      fetchOffset: p.fetchOffset ?? 0n,
      lastFetchedEpoch: p.lastFetchedEpoch ?? -1,
      logStartOffset: -1n,
      partitionMaxBytes: p.partitionMaxBytes ?? 1024 * 1024,
      replicaDirectoryId: ZERO_UUID,
    });
  }
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 1,
    maxBytes: options.maxBytes ?? 50 * 1024 * 1024,
    isolationLevel: options.isolationLevel ?? 0,
    sessionId: options.sessionId ?? 0,
    sessionEpoch: options.sessionEpoch ?? -1,
    topics,
    forgottenTopicsData: (options.forgotten ?? []).map((f) => ({
      topic: f.topic,
      topicId: f.topicId ?? ZERO_UUID,
      partitions: f.partitions,
    })),
    rackId: '',
  };
}

export async function fetchRaw(
  client: RawClient,
  partitions: readonly FetchPartitionSpec[],
  options: FetchOptions = {},
): Promise<FetchResponse> {
  return (await client.request(Fetch, options.version ?? 12, fetchBody(partitions, options))).body;
}

/** A record as the tests compare them. */
export interface PlainRecord {
  offset: bigint;
  timestamp: bigint;
  key: string | null;
  value: string | null;
  headers: Array<[string, string | null]>;
}

/** Decodes the batches of a fetched `records` field into plain records (a partial tail is ignored). */
export async function plainRecords(records: Buffer | null): Promise<PlainRecord[]> {
  if (records === null || records.length === 0) return [];
  const batches = await decodeRecordBatches(records);
  return batches.flatMap((batch) =>
    batch.records.map((r) => ({
      offset: recordOffset(batch, r),
      timestamp: recordTimestamp(batch, r),
      key: r.key === null ? null : r.key.toString('utf8'),
      value: r.value === null ? null : r.value.toString('utf8'),
      headers: r.headers.map((h): [string, string | null] => [h.key, h.value === null ? null : h.value.toString()]),
    })),
  );
}

/** Every record of a partition from `from` up to its high watermark, by repeated raw fetches. */
export async function readPartition(
  client: RawClient,
  topic: string,
  partition = 0,
  from = 0n,
  version = 12,
): Promise<PlainRecord[]> {
  const out: PlainRecord[] = [];
  let offset = from;
  for (let round = 0; round < 10_000; round++) {
    const response = await fetchRaw(client, [{ topic, partition, fetchOffset: offset }], { version });
    const data = response.responses[0]!.partitions[0]!;
    assert.equal(data.errorCode, ErrorCode.NONE, `fetch of ${topic}-${partition} at ${offset} failed`);
    const records = (await plainRecords(data.records)).filter((r) => r.offset >= offset);
    out.push(...records);
    if (records.length === 0) {
      assert.ok(offset >= data.highWatermark, `no progress at ${offset} below the high watermark`);
      return out;
    }
    offset = records[records.length - 1]!.offset + 1n;
  }
  throw new Error('readPartition did not finish');
}

/** Creates a topic through the broker's TopicManager (tests that need configs before CreateTopics is used). */
export async function createTopic(
  broker: StartedBroker,
  name: string,
  options: { partitions?: number; configs?: Record<string, string> } = {},
): Promise<string> {
  const info = await broker.broker.services.topics.create({
    name,
    numPartitions: options.partitions ?? 1,
    replicationFactor: 1,
    configs: options.configs ?? {},
  });
  return info.topicId;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------- kcat

export const KCAT_INSTALLED = kcatInstalled();
const ON_CI = process.env.CI === 'true';
let warned = false;

/** A test that needs kcat: skipped loudly without it, except under CI=true, where that is a failure. */
export function kcatTest(name: string, options: { timeout: number }, fn: (t: TestContext) => Promise<void>): void {
  if (KCAT_INSTALLED) {
    test(name, options, fn);
  } else if (ON_CI) {
    test(name, () =>
      assert.fail('kcat is not installed, and CI=true does not allow skipping: install it (.ci/run does)'),
    );
  } else {
    if (!warned) {
      warned = true;
      console.warn(
        '\n*** kcat is not installed: SKIPPING the kcat tests. Install Debian kcat (apt-get install kcat). ***\n',
      );
    }
    test(name, { skip: 'kcat is not installed' }, fn);
  }
}
