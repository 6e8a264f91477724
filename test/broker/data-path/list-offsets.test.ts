/**
 * ListOffsets (earliest, latest, max timestamp, by time, v0's offset lists) and
 * OffsetForLeaderEpoch over the raw protocol.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type StartedBroker, startBroker } from '../../../src/broker/start-broker.ts';
import { ErrorCode } from '../../../src/protocol/generated/error-codes.ts';
import type { ListOffsetsResponseListOffsetsPartitionResponse } from '../../../src/protocol/generated/messages/list-offsets.ts';
import { CompressionCodec } from '../../../src/protocol/records/index.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import { batchOf, createTopic, ListOffsets, OffsetForLeaderEpoch, produceOk } from './helpers.ts';

const T = { timeout: 30_000 };

describe('ListOffsets and OffsetForLeaderEpoch', () => {
  let broker: StartedBroker;
  let client: RawClient;

  const listOffsets = async (
    topic: string,
    timestamp: bigint,
    options: { version?: number; currentLeaderEpoch?: number; isolationLevel?: number; maxNumOffsets?: number } = {},
  ): Promise<ListOffsetsResponseListOffsetsPartitionResponse> => {
    const { body } = await client.request(ListOffsets, options.version ?? 7, {
      replicaId: -1,
      isolationLevel: options.isolationLevel ?? 0,
      topics: [
        {
          name: topic,
          partitions: [
            {
              partitionIndex: 0,
              currentLeaderEpoch: options.currentLeaderEpoch ?? -1,
              timestamp,
              maxNumOffsets: options.maxNumOffsets ?? 1,
            },
          ],
        },
      ],
      timeoutMs: 1000,
    });
    assert.equal(body.throttleTimeMs, 0);
    return body.topics[0]!.partitions[0]!;
  };
  const at = (r: ListOffsetsResponseListOffsetsPartitionResponse) => [r.errorCode, r.offset, r.timestamp];

  before(async () => {
    broker = await startBroker();
    client = await RawClient.connect(broker.port);
    await createTopic(broker, 'times');
    // Offsets 0-1 at 1000 and 1005; 2 at 3000; 3-5 at 2000, 4000, 2500 (compressed).
    await produceOk(
      client,
      'times',
      0,
      await batchOf([
        { value: 'a', timestamp: 1000n },
        { value: 'b', timestamp: 1005n },
      ]),
    );
    await produceOk(client, 'times', 0, await batchOf([{ value: 'c', timestamp: 3000n }]));
    await produceOk(
      client,
      'times',
      0,
      await batchOf(
        [
          { value: 'd', timestamp: 2000n },
          { value: 'e', timestamp: 4000n },
          { value: 'f', timestamp: 2500n },
        ],
        { compression: CompressionCodec.Snappy },
      ),
    );
  });
  after(async () => {
    client.close();
    await broker.close();
  });

  test('earliest and latest, in every version from 1 to 10', T, async () => {
    for (let version = 1; version <= 10; version++) {
      const earliest = await listOffsets('times', -2n, { version });
      const latest = await listOffsets('times', -1n, { version });
      assert.deepEqual(at(earliest), [ErrorCode.NONE, 0n, -1n], `v${version}`);
      assert.deepEqual(at(latest), [ErrorCode.NONE, 6n, -1n], `v${version}`);
      assert.equal(latest.leaderEpoch, version >= 4 ? 0 : -1);
    }
  });

  test('by timestamp: the first record at or after the time, refined inside its batch', T, async () => {
    assert.deepEqual(at(await listOffsets('times', 0n)), [ErrorCode.NONE, 0n, 1000n]);
    assert.deepEqual(at(await listOffsets('times', 1003n)), [ErrorCode.NONE, 1n, 1005n]);
    assert.deepEqual(at(await listOffsets('times', 1006n)), [ErrorCode.NONE, 2n, 3000n]);
    assert.deepEqual(at(await listOffsets('times', 3500n)), [ErrorCode.NONE, 4n, 4000n]);
    assert.deepEqual(at(await listOffsets('times', 5000n)), [ErrorCode.NONE, -1n, -1n]);
    assert.equal((await listOffsets('times', 3500n, { version: 4 })).leaderEpoch, 0);
  });

  test('max timestamp (-3, v7+): the record with the largest timestamp', T, async () => {
    assert.deepEqual(at(await listOffsets('times', -3n)), [ErrorCode.NONE, 4n, 4000n]);
  });

  test('earliest local (-4) is the log start; latest tiered (-5) is none', T, async () => {
    assert.deepEqual(at(await listOffsets('times', -4n, { version: 8 })), [ErrorCode.NONE, 0n, -1n]);
    const tiered = await listOffsets('times', -5n, { version: 9 });
    assert.deepEqual([...at(tiered), tiered.leaderEpoch], [ErrorCode.NONE, -1n, -1n, -1]);
  });

  test('read_committed sees up to the last stable offset (the high watermark, without transactions)', T, async () => {
    assert.deepEqual(at(await listOffsets('times', -1n, { isolationLevel: 1 })), [ErrorCode.NONE, 6n, -1n]);
  });

  test('v0 answers with offset lists', T, async () => {
    const latest = await listOffsets('times', -1n, { version: 0, maxNumOffsets: 10 });
    assert.deepEqual([latest.errorCode, latest.oldStyleOffsets], [ErrorCode.NONE, [6n, 0n]]);
    const earliest = await listOffsets('times', -2n, { version: 0, maxNumOffsets: 10 });
    assert.deepEqual(earliest.oldStyleOffsets, [0n]);
    const one = await listOffsets('times', -1n, { version: 0, maxNumOffsets: 1 });
    assert.deepEqual(one.oldStyleOffsets, [6n]);
  });

  test('leader epoch fencing (v4+) and unknown partitions', T, async () => {
    assert.equal((await listOffsets('times', -1n, { currentLeaderEpoch: 0 })).errorCode, ErrorCode.NONE);
    assert.equal(
      (await listOffsets('times', -1n, { currentLeaderEpoch: 3 })).errorCode,
      ErrorCode.UNKNOWN_LEADER_EPOCH,
    );
    assert.equal((await listOffsets('nowhere', -1n)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test('a partition named twice is INVALID_REQUEST', T, async () => {
    const p = { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 };
    const { body } = await client.request(ListOffsets, 7, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: 'times', partitions: [p, p] }],
      timeoutMs: 1000,
    });
    assert.deepEqual(
      body.topics[0]!.partitions.map((x) => x.errorCode),
      [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST],
    );
  });

  test('the log start offset moves with DeleteRecords, and earliest follows', T, async () => {
    await createTopic(broker, 'trimmed');
    for (let i = 0; i < 4; i++) {
      await produceOk(client, 'trimmed', 0, await batchOf([{ value: `${i}`, timestamp: 100n + BigInt(i) }]));
    }
    await broker.broker.services.logs.getLog('trimmed', 0)!.deleteRecordsBefore(2n);
    assert.deepEqual(at(await listOffsets('trimmed', -2n)), [ErrorCode.NONE, 2n, -1n]);
    assert.deepEqual(at(await listOffsets('trimmed', 0n)), [ErrorCode.NONE, 2n, 102n]);
  });

  test('LogAppendTime topics are searched by the broker time', T, async () => {
    await createTopic(broker, 'appended', { configs: { 'message.timestamp.type': 'LogAppendTime' } });
    const before = BigInt(Date.now());
    await produceOk(client, 'appended', 0, await batchOf([{ value: 'a', timestamp: 1n }]));
    const found = await listOffsets('appended', before - 1000n);
    assert.equal(found.offset, 0n);
    assert.ok(found.timestamp >= before, 'the append time, not the producer time');
    assert.deepEqual(at(await listOffsets('appended', 2n)).slice(0, 2), [ErrorCode.NONE, 0n]);
  });

  test('OffsetForLeaderEpoch v0–v4: epoch 0 ends at the log end, later epochs are unknown', T, async () => {
    for (let version = 0; version <= 4; version++) {
      const { body } = await client.request(OffsetForLeaderEpoch, version, {
        replicaId: -1,
        topics: [
          {
            topic: 'times',
            partitions: [
              { partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 },
              { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 7 },
              { partition: 3, currentLeaderEpoch: -1, leaderEpoch: 0 },
            ],
          },
          { topic: 'nowhere', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] },
        ],
      });
      const [current, later, missing] = body.topics[0]!.partitions;
      assert.deepEqual(
        [current!.errorCode, current!.leaderEpoch, current!.endOffset],
        [ErrorCode.NONE, version >= 1 ? 0 : -1, 6n],
        `v${version}`,
      );
      assert.deepEqual([later!.errorCode, later!.endOffset], [ErrorCode.NONE, -1n]);
      assert.equal(missing!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      assert.equal(body.topics[1]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    }
    const { body } = await client.request(OffsetForLeaderEpoch, 2, {
      replicaId: -1,
      topics: [{ topic: 'times', partitions: [{ partition: 0, currentLeaderEpoch: 1, leaderEpoch: 0 }] }],
    });
    assert.equal(body.topics[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH);
  });
});
