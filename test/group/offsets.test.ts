/**
 * Committed offsets over the raw wire: every OffsetCommit and OffsetFetch version, metadata
 * and leader epochs round-tripping, standalone commits, multi-group fetch, OffsetDelete,
 * DeleteGroups, and what a reader of `__consumer_offsets` sees.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { partitionForGroup } from '../../src/broker/group/partition-for.ts';
import { OFFSETS_TOPIC } from '../../src/broker/group/state-log.ts';
import type { StartedBroker } from '../../src/broker/start-broker.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { decodeRecordBatches } from '../../src/protocol/records/index.ts';
import { fetchRaw } from '../broker/data-path/helpers.ts';
import type { RawClient } from '../helpers/raw-client.ts';
import {
  assignmentBytes,
  commit,
  connect,
  createTopic,
  DeleteGroups,
  fetchCommitted,
  joinWithId,
  ListGroups,
  OffsetDelete,
  OffsetFetch,
  startGroupBroker,
  syncGroup,
} from './helpers.ts';

const T = { timeout: 30_000 };

/** Every record of a partition as raw key and value bytes, through Fetch like any consumer. */
async function readRecords(client: RawClient, topic: string, partition: number) {
  const out: { key: Buffer | null; value: Buffer | null }[] = [];
  let offset = 0n;
  for (;;) {
    const response = await fetchRaw(client, [{ topic, partition, fetchOffset: offset }], { maxWaitMs: 0 });
    const data = response.responses[0]!.partitions[0]!;
    assert.equal(data.errorCode, ErrorCode.NONE);
    const batches = data.records === null ? [] : await decodeRecordBatches(data.records);
    let progressed = false;
    for (const batch of batches) {
      for (const r of batch.records) {
        const at = batch.baseOffset + BigInt(r.offsetDelta);
        if (at < offset) continue;
        out.push({ key: r.key, value: r.value });
        offset = at + 1n;
        progressed = true;
      }
    }
    if (!progressed) return out;
  }
}

describe('committed offsets', () => {
  let broker: StartedBroker;
  let c: RawClient;
  before(async () => {
    broker = await startGroupBroker();
    await createTopic(broker, 'orders', 3);
    await createTopic(broker, 'payments', 2);
    [c] = (await connect(broker, 1)) as [RawClient];
  });
  after(async () => {
    c.close();
    await broker.close();
  });

  test('every OffsetCommit version is read back by every OffsetFetch version, metadata included', T, async () => {
    for (let cv = 0; cv <= 9; cv++) {
      const group = `g-versions-${cv}`;
      const results = await commit(c, {
        version: cv,
        groupId: group,
        offsets: [
          { topic: 'orders', partition: 0, offset: BigInt(100 + cv), metadata: `meta-${cv}`, leaderEpoch: 3 },
          { topic: 'orders', partition: 2, offset: 7n, metadata: null },
        ],
      });
      assert.deepEqual([...results.values()], [ErrorCode.NONE, ErrorCode.NONE], `commit v${cv}`);
      for (let fv = 0; fv <= 9; fv++) {
        const topics = [{ name: 'orders', partitionIndexes: [0, 1, 2] }];
        let partitions: {
          partitionIndex: number;
          committedOffset: bigint;
          committedLeaderEpoch: number;
          metadata: string | null;
          errorCode: number;
        }[];
        if (fv >= 8) {
          const { body } = await c.request(OffsetFetch, fv, {
            groupId: '',
            topics: null,
            groups: [{ groupId: group, memberId: null, memberEpoch: -1, topics }],
            requireStable: false,
          });
          partitions = body.groups[0]!.topics[0]!.partitions;
        } else {
          partitions = (await fetchCommitted(c, group, topics, fv)).body.topics[0]!.partitions;
        }
        assert.deepEqual(
          partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata, p.errorCode]),
          [
            [0, BigInt(100 + cv), `meta-${cv}`, 0],
            [1, -1n, '', 0],
            [2, 7n, '', 0],
          ],
          `commit v${cv}, fetch v${fv}`,
        );
        if (fv >= 5) {
          // The leader epoch is carried from OffsetCommit v6.
          assert.equal(partitions[0]!.committedLeaderEpoch, cv >= 6 ? 3 : -1, `epoch, commit v${cv}, fetch v${fv}`);
        }
      }
    }
  });

  test(
    'a standalone commit (generation −1) creates an empty group; null topics fetch everything (v2+)',
    T,
    async () => {
      await commit(c, {
        groupId: 'g-standalone',
        offsets: [
          { topic: 'orders', partition: 1, offset: 11n },
          { topic: 'payments', partition: 0, offset: 22n },
        ],
      });
      const { body } = await fetchCommitted(c, 'g-standalone', null, 7);
      assert.deepEqual(
        body.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset])]),
        [
          ['orders', [[1, 11n]]],
          ['payments', [[0, 22n]]],
        ],
      );
      const listed = await c.request(ListGroups, 5, { statesFilter: [], typesFilter: [] });
      const g = listed.body.groups.find((x) => x.groupId === 'g-standalone')!;
      assert.deepEqual([g.groupState, g.protocolType, g.groupType], ['Empty', '', 'classic']);
      const none = await fetchCommitted(c, 'g-does-not-exist', null, 7);
      assert.deepEqual(none.body.topics, []);
      assert.equal(none.body.errorCode, ErrorCode.NONE);
    },
  );

  test('OffsetFetch v8 answers several groups in one request', T, async () => {
    await commit(c, { groupId: 'g-multi-a', offsets: [{ topic: 'orders', partition: 0, offset: 1n }] });
    await commit(c, { groupId: 'g-multi-b', offsets: [{ topic: 'orders', partition: 0, offset: 2n }] });
    const { body } = await c.request(OffsetFetch, 8, {
      groupId: '',
      topics: null,
      groups: [
        { groupId: 'g-multi-a', memberId: null, memberEpoch: -1, topics: null },
        { groupId: 'g-multi-b', memberId: null, memberEpoch: -1, topics: [{ name: 'orders', partitionIndexes: [0] }] },
      ],
      requireStable: true,
    });
    assert.deepEqual(
      body.groups.map((g) => [g.groupId, g.errorCode, g.topics[0]!.partitions[0]!.committedOffset]),
      [
        ['g-multi-a', 0, 1n],
        ['g-multi-b', 0, 2n],
      ],
    );
  });

  test(
    'per-partition errors: unknown topic or partition, metadata too large; members of unknown groups',
    T,
    async () => {
      const results = await commit(c, {
        groupId: 'g-errors',
        offsets: [
          { topic: 'orders', partition: 0, offset: 1n },
          { topic: 'no-such-topic', partition: 0, offset: 1n },
          { topic: 'orders', partition: 9, offset: 1n },
          { topic: 'payments', partition: 0, offset: 1n, metadata: 'x'.repeat(5000) },
        ],
      });
      assert.deepEqual(Object.fromEntries(results), {
        'orders-0': ErrorCode.NONE,
        'no-such-topic-0': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        'orders-9': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        'payments-0': ErrorCode.OFFSET_METADATA_TOO_LARGE,
      });
      const asMember = {
        groupId: 'g-unknown',
        generationId: 3,
        memberId: 'm',
        offsets: [{ topic: 'orders', partition: 0, offset: 1n }],
      };
      assert.equal((await commit(c, { ...asMember, version: 8 })).get('orders-0'), ErrorCode.ILLEGAL_GENERATION);
      assert.equal((await commit(c, { ...asMember, version: 9 })).get('orders-0'), ErrorCode.GROUP_ID_NOT_FOUND);
    },
  );

  test('OffsetDelete: offsets of an empty group go; a consumed topic is GROUP_SUBSCRIBED_TO_TOPIC', T, async () => {
    await commit(c, {
      groupId: 'g-delete-offsets',
      offsets: [
        { topic: 'orders', partition: 0, offset: 5n },
        { topic: 'payments', partition: 1, offset: 6n },
      ],
    });
    const { body } = await c.request(OffsetDelete, 0, {
      groupId: 'g-delete-offsets',
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }, { partitionIndex: 1 }] }],
    });
    assert.equal(body.errorCode, ErrorCode.NONE);
    assert.deepEqual(
      body.topics[0]!.partitions.map((p) => p.errorCode),
      [0, 0],
    );
    const left = await fetchCommitted(c, 'g-delete-offsets', null);
    assert.deepEqual([...left.offsets], [['payments-1', 6n]]);

    const missing = await c.request(OffsetDelete, 0, { groupId: 'g-missing', topics: [] });
    assert.equal(missing.body.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);

    // A live group consuming "orders".
    const [m] = await connect(broker, 1);
    const joined = await joinWithId(m!, { groupId: 'g-live', topics: ['orders'] });
    await syncGroup(m!, {
      groupId: 'g-live',
      generationId: joined.generationId,
      memberId: joined.memberId,
      assignments: [{ memberId: joined.memberId, assignment: assignmentBytes({ orders: [0, 1, 2] }) }],
    });
    await commit(m!, {
      groupId: 'g-live',
      generationId: joined.generationId,
      memberId: joined.memberId,
      offsets: [
        { topic: 'orders', partition: 0, offset: 1n },
        { topic: 'payments', partition: 0, offset: 1n },
      ],
    });
    const live = await c.request(OffsetDelete, 0, {
      groupId: 'g-live',
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 0 }] },
        { name: 'payments', partitions: [{ partitionIndex: 0 }] },
      ],
    });
    assert.equal(live.body.errorCode, ErrorCode.NONE);
    assert.deepEqual(
      live.body.topics.map((t) => [t.name, t.partitions[0]!.errorCode]),
      [
        ['orders', ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC],
        ['payments', ErrorCode.NONE],
      ],
    );
    m!.close();
  });

  test('DeleteGroups takes the offsets with the group', T, async () => {
    await commit(c, { groupId: 'g-delete', offsets: [{ topic: 'orders', partition: 0, offset: 3n }] });
    const { body } = await c.request(DeleteGroups, 2, { groupsNames: ['g-delete'] });
    assert.equal(body.results[0]!.errorCode, ErrorCode.NONE);
    const after = await fetchCommitted(c, 'g-delete', [{ name: 'orders', partitionIndexes: [0] }]);
    assert.equal(after.offsets.get('orders-0'), -1n);
  });

  test('a reader of __consumer_offsets decodes every commit in Kafka’s key/value formats', T, async () => {
    const group = 'g-burrow';
    for (let i = 1; i <= 3; i++) {
      await commit(c, {
        groupId: group,
        offsets: [{ topic: 'orders', partition: 1, offset: BigInt(i * 10), metadata: `m${i}` }],
      });
    }
    await c.request(OffsetDelete, 0, {
      groupId: group,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 1 }] }],
    });
    const partition = partitionForGroup(group, broker.broker.services.topics.get(OFFSETS_TOPIC)!.partitionCount);
    const records = await readRecords(c, OFFSETS_TOPIC, partition);
    // Decoded by hand, as a lag tool does: int16 key version, then the key; int16 value version, then the value.
    const seen: Array<[bigint, string] | 'tombstone'> = [];
    for (const r of records) {
      const key = new Reader(r.key!);
      if (key.int16() !== 1) continue;
      if (key.string() !== group) continue;
      assert.equal(key.string(), 'orders');
      assert.equal(key.int32(), 1);
      if (r.value === null) {
        seen.push('tombstone');
        continue;
      }
      const value = new Reader(r.value);
      assert.equal(value.int16(), 3);
      const offset = value.int64();
      value.int32(); // leader epoch
      const metadata = value.string();
      const commitTimestamp = value.int64();
      assert.ok(Math.abs(Number(commitTimestamp) - Date.now()) < 60_000);
      seen.push([offset, metadata]);
    }
    assert.deepEqual(seen, [[10n, 'm1'], [20n, 'm2'], [30n, 'm3'], 'tombstone']);
  });
});
