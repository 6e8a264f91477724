import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Consumer } from '../../src/client/consumer/consumer.ts';
import { Producer } from '../../src/client/producer/producer.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { createRecordBatch, encodeRecordBatch } from '../../src/protocol/records/record-batch.ts';
import { FakeBroker, type FakeRequest, produceReply } from './fake-broker.ts';

/**
 * Two scripted brokers sharing one view of the cluster, where the leader of partition 0
 * can be moved between them: clients must send to the leader and follow it when it moves.
 */
async function twoBrokers() {
  const one = await FakeBroker.start();
  const two = await FakeBroker.start();
  one.nodeId = 1;
  two.nodeId = 2;
  const cluster = { leader: 2 };
  const metadata = () => ({
    throttleTimeMs: 0,
    brokers: [one, two].map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: null })),
    clusterId: 'fake',
    controllerId: 1,
    topics: [
      {
        errorCode: 0,
        name: 't',
        topicId: Buffer.alloc(16, 7).toString('base64url'),
        isInternal: false,
        partitions: [
          {
            errorCode: 0,
            partitionIndex: 0,
            leaderId: cluster.leader,
            leaderEpoch: cluster.leader,
            replicaNodes: [1, 2],
            isrNodes: [1, 2],
            offlineReplicas: [],
          },
        ],
        topicAuthorizedOperations: -2147483648,
      },
    ],
    clusterAuthorizedOperations: -2147483648,
  });
  for (const b of [one, two]) b.on(ApiKey.Metadata, { min: 0, max: 12 }, metadata);
  return {
    one,
    two,
    cluster,
    async close() {
      await one.close();
      await two.close();
    },
  };
}

describe('following partition leaders across brokers', { timeout: 60_000 }, () => {
  test('the producer sends to the leader and follows it after NOT_LEADER_OR_FOLLOWER', async () => {
    const { one, two, cluster, close } = await twoBrokers();
    // The bootstrap broker is not the leader; the leader moves to it after the first send.
    two.on(ApiKey.Produce, { min: 3, max: 11 }, (r) => {
      cluster.leader = 1;
      return produceReply(r, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    });
    one.on(ApiKey.Produce, { min: 3, max: 11 }, (r) => produceReply(r, ErrorCode.NONE));
    const producer = new Producer({ bootstrap: one.bootstrap, idempotent: false, lingerMs: 0, retryBackoffMs: 10 });
    try {
      const m = await producer.send({ topic: 't', partition: 0, value: 'x' });
      assert.equal(m.offset, 100n);
      assert.equal(two.count(ApiKey.Produce), 1);
      assert.equal(one.count(ApiKey.Produce), 1);
    } finally {
      await producer.close();
      await close();
    }
  });

  test('the consumer fetches from the leader and follows it after NOT_LEADER_OR_FOLLOWER', async () => {
    const { one, two, cluster, close } = await twoBrokers();
    const records = await encodeRecordBatch(
      createRecordBatch([{ value: 'a' }, { value: 'b' }], { baseOffset: 0n, timestamp: 1n }),
    );
    const listOffsets = (r: FakeRequest) => ({
      throttleTimeMs: 0,
      topics: r.body.topics.map((t: { name: string; partitions: Array<{ partitionIndex: number }> }) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: 0,
          oldStyleOffsets: [],
          timestamp: -1n,
          offset: 0n,
          leaderEpoch: 0,
        })),
      })),
    });
    const fetchReply = (r: FakeRequest, errorCode: number) => ({
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      nodeEndpoints: [],
      responses: r.body.topics.map(
        (t: { topic: string; topicId: string; partitions: Array<{ partition: number; fetchOffset: bigint }> }) => ({
          topic: t.topic,
          topicId: t.topicId,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partition,
            errorCode,
            highWatermark: 2n,
            lastStableOffset: 2n,
            logStartOffset: 0n,
            divergingEpoch: { epoch: -1, endOffset: -1n },
            currentLeader: { leaderId: -1, leaderEpoch: -1 },
            snapshotId: { endOffset: -1n, epoch: -1 },
            abortedTransactions: null,
            preferredReadReplica: -1,
            records: errorCode === 0 && p.fetchOffset < 2n ? records : null,
          })),
        }),
      ),
    });
    for (const b of [one, two]) b.on(ApiKey.ListOffsets, { min: 0, max: 10 }, listOffsets);
    two.on(ApiKey.Fetch, { min: 4, max: 17 }, (r) => {
      cluster.leader = 1;
      return fetchReply(r, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    });
    one.on(ApiKey.Fetch, { min: 4, max: 17 }, (r) => fetchReply(r, ErrorCode.NONE));
    const consumer = new Consumer({ bootstrap: one.bootstrap, autoOffsetReset: 'earliest', retryBackoffMs: 10 });
    try {
      consumer.assign([{ topic: 't', partition: 0 }]);
      const got: string[] = [];
      for (let i = 0; i < 20 && got.length < 2; i++) {
        for (const r of await consumer.poll({ timeoutMs: 200 })) got.push(r.value!.toString());
      }
      assert.deepEqual(got, ['a', 'b']);
      assert.ok(two.count(ApiKey.Fetch) >= 1);
      assert.ok(one.count(ApiKey.Fetch) >= 1);
      const fetchVersion = one.requests.find((r) => r.apiKey === ApiKey.Fetch)!.version;
      assert.equal(fetchVersion, 17, 'topic ids known: the highest Fetch version is used');
    } finally {
      await consumer.close();
      await close();
    }
  });
});

describe('group protocol fallback', { timeout: 60_000 }, () => {
  test('a broker that advertises ConsumerGroupHeartbeat but refuses it gets a classic member', async () => {
    const fake = await FakeBroker.start();
    const ok = { throttleTimeMs: 0, errorCode: 0 };
    fake.on(ApiKey.Metadata, { min: 0, max: 12 }, (_r, b) => b.metadata({ t: 1 }));
    fake.on(ApiKey.FindCoordinator, { min: 0, max: 6 }, (r, b) => ({
      ...ok,
      errorMessage: null,
      nodeId: b.nodeId,
      host: b.host,
      port: b.port,
      coordinators: r.body.coordinatorKeys.map((key: string) => ({
        key,
        nodeId: b.nodeId,
        host: b.host,
        port: b.port,
        errorCode: 0,
        errorMessage: null,
      })),
    }));
    fake.on(ApiKey.ConsumerGroupHeartbeat, { min: 0, max: 1 }, () => ({
      ...ok,
      errorCode: ErrorCode.UNSUPPORTED_VERSION,
      errorMessage: 'The new consumer group protocol is not enabled',
      memberId: null,
      memberEpoch: -1,
      heartbeatIntervalMs: 0,
      assignment: null,
    }));
    fake.on(ApiKey.JoinGroup, { min: 0, max: 9 }, (r) => ({
      ...ok,
      generationId: 1,
      protocolType: 'consumer',
      protocolName: r.body.protocols[0].name,
      leader: 'member-1',
      skipAssignment: false,
      memberId: 'member-1',
      members: [{ memberId: 'member-1', groupInstanceId: null, metadata: r.body.protocols[0].metadata }],
    }));
    fake.on(ApiKey.SyncGroup, { min: 0, max: 5 }, (r) => ({
      ...ok,
      protocolType: 'consumer',
      protocolName: r.body.protocolName,
      assignment: r.body.assignments[0].assignment,
    }));
    fake.on(ApiKey.Heartbeat, { min: 0, max: 4 }, () => ok);
    fake.on(ApiKey.LeaveGroup, { min: 0, max: 5 }, () => ({ ...ok, members: [] }));
    fake.on(ApiKey.OffsetFetch, { min: 0, max: 9 }, (r) => ({
      ...ok,
      topics: [],
      groups: r.body.groups.map(
        (g: { groupId: string; topics: Array<{ name: string; partitionIndexes: number[] }> }) => ({
          groupId: g.groupId,
          errorCode: 0,
          topics: g.topics.map((t) => ({
            name: t.name,
            partitions: t.partitionIndexes.map((partitionIndex) => ({
              partitionIndex,
              committedOffset: -1n,
              committedLeaderEpoch: -1,
              metadata: null,
              errorCode: 0,
            })),
          })),
        }),
      ),
    }));
    fake.on(ApiKey.ListOffsets, { min: 0, max: 10 }, (r) => ({
      throttleTimeMs: 0,
      topics: r.body.topics.map((t: { name: string; partitions: Array<{ partitionIndex: number }> }) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: 0,
          oldStyleOffsets: [],
          timestamp: -1n,
          offset: 0n,
          leaderEpoch: 0,
        })),
      })),
    }));
    fake.on(ApiKey.Fetch, { min: 4, max: 17 }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, nodeEndpoints: [], responses: [] };
    });
    const warnings: string[] = [];
    const consumer = new Consumer({
      bootstrap: fake.bootstrap,
      groupId: 'g',
      autoCommit: false,
      logger: { warn: (m) => warnings.push(m) },
    });
    try {
      consumer.subscribe(['t']);
      for (let i = 0; i < 20 && consumer.assignment().length === 0; i++) await consumer.poll({ timeoutMs: 100 });
      assert.equal(consumer.groupProtocol, 'classic');
      assert.deepEqual(consumer.assignment(), [{ topic: 't', partition: 0 }]);
      assert.match(warnings.join('\n'), /classic protocol/);
      assert.ok(fake.count(ApiKey.ConsumerGroupHeartbeat) >= 1);
    } finally {
      await consumer.close({ timeoutMs: 2_000 });
      await fake.close();
    }
  });
});
