/**
 * KIP-848 consumer groups over the raw wire: joins and epochs, server-side assignment,
 * revocation before reassignment, fencing, regex subscriptions, leaving, timeouts, static
 * members, ConsumerGroupDescribe, and offsets committed with member epochs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { StartedBroker } from '../../src/broker/start-broker.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import type { RawClient } from '../helpers/raw-client.ts';
import {
  ConsumerGroupDescribe,
  cgHeartbeat,
  commit,
  connect,
  createTopic,
  joinWithId,
  ListGroups,
  OffsetFetch,
  sleep,
  startGroupBroker,
} from './helpers.ts';

const T = { timeout: 30_000 };

type Owned = { topicId: string; partitions: number[] }[];

function count(owned: Owned | null | undefined): number {
  return (owned ?? []).reduce((n, t) => n + t.partitions.length, 0);
}

function keys(owned: Owned | null | undefined): string[] {
  return (owned ?? []).flatMap((t) => t.partitions.map((p) => `${t.topicId}:${p}`)).sort();
}

/** A member driven the way a KIP-848 client drives itself: it owns what the last assignment said. */
class Member {
  epoch = 0;
  owned: Owned = [];
  constructor(
    readonly client: RawClient,
    readonly groupId: string,
    readonly memberId: string,
    readonly join: {
      subscribedTopicNames?: string[] | null;
      subscribedTopicRegex?: string | null;
      serverAssignor?: string | null;
      instanceId?: string | null;
      rebalanceTimeoutMs?: number;
    } = {},
  ) {}

  async heartbeat(extra: { topicPartitions?: Owned | null } = {}) {
    const r = await cgHeartbeat(this.client, {
      groupId: this.groupId,
      memberId: this.memberId,
      memberEpoch: this.epoch,
      ...(this.epoch === 0 ? this.join : {}),
      instanceId: this.join.instanceId ?? null,
      topicPartitions:
        extra.topicPartitions === undefined ? (this.epoch === 0 ? [] : this.owned) : extra.topicPartitions,
    });
    if (r.errorCode === ErrorCode.NONE) {
      this.epoch = r.memberEpoch;
      if (r.assignment !== null)
        this.owned = r.assignment.topicPartitions.map((t) => ({ topicId: t.topicId, partitions: t.partitions }));
    }
    return r;
  }
}

describe('KIP-848 consumer groups', () => {
  let broker: StartedBroker;
  const clients: RawClient[] = [];
  let ordersId: string;
  const open = async (n: number) => {
    const cs = await connect(broker, n);
    clients.push(...cs);
    return cs;
  };
  before(async () => {
    broker = await startGroupBroker({ config: { 'group.consumer.session.timeout.ms': 600 } });
    ordersId = await createTopic(broker, 'orders', 6);
  });
  after(async () => {
    for (const c of clients) c.close();
    await broker.close();
  });

  test(
    'a first member joins with epoch 1 and gets every partition; v1 needs a client member id, v0 gets one',
    T,
    async () => {
      const [c] = await open(1);
      const m = new Member(c!, 'cg-first', 'm-first', { subscribedTopicNames: ['orders'] });
      const r = await m.heartbeat();
      assert.equal(r.errorCode, ErrorCode.NONE);
      assert.equal(r.memberId, 'm-first');
      assert.equal(r.memberEpoch, 1);
      assert.equal(r.heartbeatIntervalMs, 200);
      assert.deepEqual(r.assignment?.topicPartitions, [{ topicId: ordersId, partitions: [0, 1, 2, 3, 4, 5] }]);
      const again = await m.heartbeat();
      assert.equal(again.assignment, null, 'nothing changed: no assignment in the response');

      const empty = await cgHeartbeat(c!, {
        groupId: 'cg-first',
        memberId: '',
        memberEpoch: 0,
        subscribedTopicNames: ['orders'],
      });
      assert.equal(empty.errorCode, ErrorCode.INVALID_REQUEST);
      assert.equal(empty.errorMessage, "MemberId can't be empty.");
      const v0 = await cgHeartbeat(c!, {
        version: 0,
        groupId: 'cg-v0',
        memberId: '',
        memberEpoch: 0,
        subscribedTopicNames: ['orders'],
      });
      assert.equal(v0.errorCode, ErrorCode.NONE);
      assert.match(v0.memberId!, /^[A-Za-z0-9_-]{22}$/);
      const noSubscription = await cgHeartbeat(c!, { groupId: 'cg-x', memberId: 'x', memberEpoch: 0 });
      assert.equal(noSubscription.errorCode, ErrorCode.INVALID_REQUEST);
      const badAssignor = await cgHeartbeat(c!, {
        groupId: 'cg-x',
        memberId: 'x',
        memberEpoch: 0,
        subscribedTopicNames: ['orders'],
        serverAssignor: 'sticky',
      });
      assert.equal(badAssignor.errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR);
    },
  );

  test('a second member: partitions are revoked from the first before the second gets them', T, async () => {
    const [a, b] = await open(2);
    const g = 'cg-two';
    const ma = new Member(a!, g, 'a', { subscribedTopicNames: ['orders'] });
    const mb = new Member(b!, g, 'b', { subscribedTopicNames: ['orders'] });
    await ma.heartbeat();
    assert.equal(count(ma.owned), 6);

    const rb = await mb.heartbeat();
    assert.equal(rb.memberEpoch, 2, 'the new member is at the new epoch');
    assert.equal(count(mb.owned), 0, 'but everything it should get is still owned by a');

    const ra = await ma.heartbeat();
    assert.equal(ra.memberEpoch, 1, 'a keeps its epoch until it has revoked');
    assert.equal(count(ma.owned), 3, 'a is told to keep three');
    // a has not revoked yet (it still reports six): b gets nothing.
    const stillOwned = [{ topicId: ordersId, partitions: [0, 1, 2, 3, 4, 5] }];
    const ra2 = await cgHeartbeat(a!, { groupId: g, memberId: 'a', memberEpoch: 1, topicPartitions: stillOwned });
    assert.equal(ra2.memberEpoch, 1);
    assert.equal(count((await mb.heartbeat()).assignment?.topicPartitions ?? mb.owned), 0);

    const ra3 = await ma.heartbeat();
    assert.equal(ra3.memberEpoch, 2, 'a revoked: it moves to epoch 2');
    const rb2 = await mb.heartbeat();
    assert.equal(rb2.memberEpoch, 2);
    assert.equal(count(mb.owned), 3);
    const all = [...keys(ma.owned), ...keys(mb.owned)];
    assert.equal(new Set(all).size, 6, 'each partition has one owner');

    const described = (await a!.request(ConsumerGroupDescribe, 0, { groupIds: [g], includeAuthorizedOperations: true }))
      .body.groups[0]!;
    assert.equal(described.errorCode, ErrorCode.NONE);
    assert.equal(described.groupState, 'Stable');
    assert.equal(described.groupEpoch, 2);
    assert.equal(described.assignmentEpoch, 2);
    assert.equal(described.assignorName, 'uniform');
    assert.deepEqual(
      described.members.map((m) => [m.memberId, m.memberEpoch, m.assignment.topicPartitions[0]!.topicName]).sort(),
      [
        ['a', 2, 'orders'],
        ['b', 2, 'orders'],
      ],
    );
    const listed = await a!.request(ListGroups, 5, { statesFilter: [], typesFilter: ['Consumer'] });
    const entry = listed.body.groups.find((x) => x.groupId === g)!;
    assert.deepEqual([entry.groupType, entry.protocolType, entry.groupState], ['consumer', 'consumer', 'Stable']);

    // b leaves: a gets everything back at a new epoch.
    const left = await cgHeartbeat(b!, { groupId: g, memberId: 'b', memberEpoch: -1 });
    assert.equal(left.memberEpoch, -1);
    const ra4 = await ma.heartbeat();
    assert.equal(ra4.memberEpoch, 3);
    assert.equal(count(ma.owned), 6);
  });

  test(
    'fencing: a wrong epoch is FENCED_MEMBER_EPOCH, an unknown member UNKNOWN_MEMBER_ID; a fenced member rejoins',
    T,
    async () => {
      const [c] = await open(1);
      const m = new Member(c!, 'cg-fence', 'f', { subscribedTopicNames: ['orders'] });
      await m.heartbeat();
      const ahead = await cgHeartbeat(c!, {
        groupId: 'cg-fence',
        memberId: 'f',
        memberEpoch: 5,
        topicPartitions: m.owned,
      });
      assert.equal(ahead.errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
      const unknown = await cgHeartbeat(c!, {
        groupId: 'cg-fence',
        memberId: 'nobody',
        memberEpoch: 1,
        topicPartitions: [],
      });
      assert.equal(unknown.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
      const noGroup = await cgHeartbeat(c!, { groupId: 'cg-none', memberId: 'x', memberEpoch: 3, topicPartitions: [] });
      assert.equal(noGroup.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
      // Rejoining under the same id with epoch 0 (what a fenced client does) starts over.
      const rejoined = await cgHeartbeat(c!, {
        groupId: 'cg-fence',
        memberId: 'f',
        memberEpoch: 0,
        subscribedTopicNames: ['orders'],
      });
      assert.equal(rejoined.errorCode, ErrorCode.NONE);
      assert.ok(rejoined.memberEpoch > 1);
      assert.equal(count(rejoined.assignment?.topicPartitions), 6);
    },
  );

  test('regex subscriptions match whole topic names, and pick up topics created later', T, async () => {
    const [c] = await open(1);
    const rxA = await createTopic(broker, 'rx-a', 2);
    await createTopic(broker, 'xrx-b', 2);
    const m = new Member(c!, 'cg-regex', 'r', { subscribedTopicNames: [], subscribedTopicRegex: 'rx-.*' });
    await m.heartbeat();
    assert.deepEqual(m.owned, [{ topicId: rxA, partitions: [0, 1] }]);
    const rxC = await createTopic(broker, 'rx-c', 1);
    const r = await m.heartbeat();
    assert.ok(r.memberEpoch > 1, 'a new matching topic bumps the epoch');
    assert.deepEqual(
      keys(m.owned),
      keys([
        { topicId: rxA, partitions: [0, 1] },
        { topicId: rxC, partitions: [0] },
      ]),
    );
    const bad = await cgHeartbeat(c!, {
      groupId: 'cg-regex2',
      memberId: 'z',
      memberEpoch: 0,
      subscribedTopicRegex: '(',
    });
    assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
  });

  test('the range assignor gives contiguous ranges by member id', T, async () => {
    const [a, b] = await open(2);
    const ma = new Member(a!, 'cg-range', 'ra', { subscribedTopicNames: ['orders'], serverAssignor: 'range' });
    const mb = new Member(b!, 'cg-range', 'rb', { subscribedTopicNames: ['orders'], serverAssignor: 'range' });
    await ma.heartbeat();
    await mb.heartbeat();
    await ma.heartbeat();
    await ma.heartbeat();
    await mb.heartbeat();
    assert.deepEqual(ma.owned, [{ topicId: ordersId, partitions: [0, 1, 2] }]);
    assert.deepEqual(mb.owned, [{ topicId: ordersId, partitions: [3, 4, 5] }]);
  });

  test(
    'a member that stops heartbeating leaves after the session timeout; one that never revokes, after its rebalance timeout',
    T,
    async () => {
      const [a, b, c] = await open(3);
      const g = 'cg-timeouts';
      const ma = new Member(a!, g, 'ta', { subscribedTopicNames: ['orders'], rebalanceTimeoutMs: 400 });
      await ma.heartbeat();
      const mb = new Member(b!, g, 'tb', { subscribedTopicNames: ['orders'] });
      await mb.heartbeat();
      // a is asked to revoke but keeps reporting all six partitions, while heartbeating.
      const six = [{ topicId: ordersId, partitions: [0, 1, 2, 3, 4, 5] }];
      let code: number = ErrorCode.NONE;
      for (let i = 0; i < 20 && code === ErrorCode.NONE; i++) {
        code = (await cgHeartbeat(a!, { groupId: g, memberId: 'ta', memberEpoch: 1, topicPartitions: six })).errorCode;
        await mb.heartbeat();
        await sleep(50);
      }
      assert.equal(code, ErrorCode.UNKNOWN_MEMBER_ID, 'a was removed for not revoking');
      await mb.heartbeat();
      assert.equal(count(mb.owned), 6);
      // A member that goes silent is removed after group.consumer.session.timeout.ms.
      const mc = new Member(c!, g, 'tc', { subscribedTopicNames: ['orders'] });
      await mc.heartbeat();
      await sleep(900);
      assert.equal((await mc.heartbeat()).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    },
  );

  test(
    'static members: a temporary leave keeps the partitions for the next instance; a second live instance is refused',
    T,
    async () => {
      const [a, b, c] = await open(3);
      const g = 'cg-static';
      const first = new Member(a!, g, 's1', { subscribedTopicNames: ['orders'], instanceId: 'inst' });
      await first.heartbeat();
      const dup = await cgHeartbeat(c!, {
        groupId: g,
        memberId: 's-dup',
        memberEpoch: 0,
        instanceId: 'inst',
        subscribedTopicNames: ['orders'],
      });
      assert.equal(dup.errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
      const left = await cgHeartbeat(a!, { groupId: g, memberId: 's1', memberEpoch: -2, instanceId: 'inst' });
      assert.equal(left.memberEpoch, -2);
      const second = new Member(b!, g, 's2', { subscribedTopicNames: ['orders'], instanceId: 'inst' });
      const r = await second.heartbeat();
      assert.equal(r.errorCode, ErrorCode.NONE);
      assert.equal(count(second.owned), 6, 'the partitions come back to the instance');
      const old = await cgHeartbeat(a!, {
        groupId: g,
        memberId: 's1',
        memberEpoch: 1,
        instanceId: 'inst',
        topicPartitions: [],
      });
      assert.equal(old.errorCode, ErrorCode.FENCED_INSTANCE_ID);
    },
  );

  test(
    'offsets: commits carry the member epoch (OffsetCommit v9); a stale epoch is STALE_MEMBER_EPOCH',
    T,
    async () => {
      const [c] = await open(1);
      const g = 'cg-offsets';
      const m = new Member(c!, g, 'o', { subscribedTopicNames: ['orders'] });
      await m.heartbeat();
      const ok = await commit(c!, {
        version: 9,
        groupId: g,
        generationId: m.epoch,
        memberId: 'o',
        offsets: [{ topic: 'orders', partition: 0, offset: 12n }],
      });
      assert.equal(ok.get('orders-0'), ErrorCode.NONE);
      const stale = await commit(c!, {
        version: 9,
        groupId: g,
        generationId: m.epoch + 1,
        memberId: 'o',
        offsets: [{ topic: 'orders', partition: 0, offset: 13n }],
      });
      assert.equal(stale.get('orders-0'), ErrorCode.STALE_MEMBER_EPOCH);
      const old = await commit(c!, {
        version: 8,
        groupId: g,
        generationId: m.epoch,
        memberId: 'o',
        offsets: [{ topic: 'orders', partition: 0, offset: 13n }],
      });
      assert.equal(old.get('orders-0'), ErrorCode.UNSUPPORTED_VERSION);
      const stranger = await commit(c!, {
        version: 9,
        groupId: g,
        generationId: -1,
        memberId: '',
        offsets: [{ topic: 'orders', partition: 0, offset: 13n }],
      });
      assert.equal(
        stranger.get('orders-0'),
        ErrorCode.UNKNOWN_MEMBER_ID,
        'no standalone commits while the group has members',
      );
      const fetched = await c!.request(OffsetFetch, 9, {
        groupId: '',
        topics: null,
        groups: [
          { groupId: g, memberId: 'o', memberEpoch: m.epoch, topics: [{ name: 'orders', partitionIndexes: [0] }] },
        ],
        requireStable: false,
      });
      assert.equal(fetched.body.groups[0]!.topics[0]!.partitions[0]!.committedOffset, 12n);
      const staleFetch = await c!.request(OffsetFetch, 9, {
        groupId: '',
        topics: null,
        groups: [{ groupId: g, memberId: 'o', memberEpoch: 99, topics: null }],
        requireStable: false,
      });
      assert.equal(staleFetch.body.groups[0]!.errorCode, ErrorCode.STALE_MEMBER_EPOCH);
    },
  );

  test(
    'an empty classic group becomes a consumer group (offsets kept); the two kinds do not mix while they have members',
    T,
    async () => {
      const [a, b] = await open(2);
      await commit(a!, { groupId: 'cg-upgrade', offsets: [{ topic: 'orders', partition: 2, offset: 77n }] });
      const m = new Member(a!, 'cg-upgrade', 'u', { subscribedTopicNames: ['orders'] });
      const r = await m.heartbeat();
      assert.equal(r.errorCode, ErrorCode.NONE);
      const fetched = await c_fetch(a!, 'cg-upgrade');
      assert.equal(fetched, 77n);
      const classicJoin = await joinWithId(b!, { groupId: 'cg-upgrade', topics: ['orders'] });
      assert.equal(classicJoin.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

      const classic = await joinWithId(b!, { groupId: 'cg-classic', topics: ['orders'] });
      assert.equal(classic.errorCode, ErrorCode.NONE);
      const refused = await cgHeartbeat(a!, {
        groupId: 'cg-classic',
        memberId: 'q',
        memberEpoch: 0,
        subscribedTopicNames: ['orders'],
      });
      assert.equal(refused.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
      const describeClassic = (
        await a!.request(ConsumerGroupDescribe, 0, {
          groupIds: ['cg-classic', 'cg-nope'],
          includeAuthorizedOperations: false,
        })
      ).body.groups;
      assert.deepEqual(
        describeClassic.map((g) => g.errorCode),
        [ErrorCode.GROUP_ID_NOT_FOUND, ErrorCode.GROUP_ID_NOT_FOUND],
      );
    },
  );
});

async function c_fetch(client: RawClient, groupId: string): Promise<bigint> {
  const { body } = await client.request(OffsetFetch, 8, {
    groupId: '',
    topics: null,
    groups: [{ groupId, memberId: null, memberEpoch: -1, topics: [{ name: 'orders', partitionIndexes: [2] }] }],
    requireStable: false,
  });
  return body.groups[0]!.topics[0]!.partitions[0]!.committedOffset;
}
