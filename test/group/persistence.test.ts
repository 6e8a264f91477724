/**
 * Group state lives in `__consumer_offsets`: it survives a broker restart (classic groups,
 * KIP-848 groups, offsets), and offsets expire after offsets.retention.minutes the way
 * Kafka expires them, leaving tombstones behind.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BrokerConfig } from '../../src/broker/config.ts';
import { GroupCoordinator } from '../../src/broker/group/coordinator.ts';
import { silentLogger } from '../../src/broker/logger.ts';
import { TopicManager } from '../../src/broker/services/topic-manager.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { LogManager } from '../../src/storage/log-manager.ts';
import { TopicStore } from '../../src/storage/topic-store.ts';
import {
  assignmentBytes,
  ConsumerGroupDescribe,
  cgHeartbeat,
  commit,
  connect,
  createTopic,
  DescribeGroups,
  fetchCommitted,
  heartbeat,
  joinGroup,
  joinWithId,
  parseAssignment,
  startGroupBroker,
  subscription,
  syncGroup,
  waitFor,
} from './helpers.ts';

const T = { timeout: 60_000 };

describe('broker restart', () => {
  test('committed offsets, classic and consumer groups come back; members carry on where they were', T, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tributary-groups-'));
    try {
      const first = await startGroupBroker({ dataDir });
      await createTopic(first, 'orders', 4);
      const [a, b, k] = await connect(first, 3);
      const g = 'g-restart';
      const [ja, jb] = await Promise.all([
        joinWithId(a!, { groupId: g, topics: ['orders'], sessionTimeoutMs: 10_000 }),
        joinWithId(b!, { groupId: g, topics: ['orders'], sessionTimeoutMs: 10_000 }),
      ]);
      const leader = ja.leader === ja.memberId ? { c: a!, id: ja.memberId } : { c: b!, id: jb.memberId };
      const follower = leader.c === a ? { c: b!, id: jb.memberId } : { c: a!, id: ja.memberId };
      await Promise.all([
        syncGroup(leader.c, {
          groupId: g,
          generationId: 1,
          memberId: leader.id,
          assignments: [
            { memberId: leader.id, assignment: assignmentBytes({ orders: [0, 1] }) },
            { memberId: follower.id, assignment: assignmentBytes({ orders: [2, 3] }) },
          ],
        }),
        syncGroup(follower.c, { groupId: g, generationId: 1, memberId: follower.id }),
      ]);
      await commit(leader.c, {
        groupId: g,
        generationId: 1,
        memberId: leader.id,
        offsets: [
          { topic: 'orders', partition: 0, offset: 40n, metadata: 'kept' },
          { topic: 'orders', partition: 1, offset: 41n },
        ],
      });
      await commit(a!, { groupId: 'g-simple', offsets: [{ topic: 'orders', partition: 3, offset: 9n }] });
      const joined848 = await cgHeartbeat(k!, {
        groupId: 'g-848',
        memberId: 'member-848',
        memberEpoch: 0,
        subscribedTopicNames: ['orders'],
      });
      assert.equal(joined848.errorCode, ErrorCode.NONE);
      for (const x of [a, b, k]) x!.close();
      await first.close();

      const second = await startGroupBroker({ dataDir });
      try {
        const [c, k2] = await connect(second, 2);
        const described = (await c!.request(DescribeGroups, 5, { groups: [g], includeAuthorizedOperations: false }))
          .body.groups[0]!;
        assert.equal(described.groupState, 'Stable');
        assert.equal(described.members.length, 2);
        assert.deepEqual(parseAssignment(described.members.find((m) => m.memberId === follower.id)!.memberAssignment), {
          orders: [2, 3],
        });
        const offsets = await fetchCommitted(c!, g, [{ name: 'orders', partitionIndexes: [0, 1, 2] }]);
        assert.deepEqual(
          [...offsets.offsets],
          [
            ['orders-0', 40n],
            ['orders-1', 41n],
            ['orders-2', -1n],
          ],
        );
        assert.equal(offsets.body.topics[0]!.partitions[0]!.metadata, 'kept');
        assert.equal((await fetchCommitted(c!, 'g-simple', null)).offsets.get('orders-3'), 9n);

        // The members reconnect with their ids and generation: no rebalance needed.
        assert.equal(await heartbeat(c!, { groupId: g, generationId: 1, memberId: follower.id }), ErrorCode.NONE);
        const rejoined = await joinGroup(c!, {
          groupId: g,
          memberId: follower.id,
          topics: ['orders'],
          sessionTimeoutMs: 10_000,
        });
        assert.equal(rejoined.generationId, 1);
        const synced = await syncGroup(c!, { groupId: g, generationId: 1, memberId: follower.id });
        assert.deepEqual(parseAssignment(synced.assignment), { orders: [2, 3] });

        // The KIP-848 member too, with its epoch and assignment.
        const cg = (
          await k2!.request(ConsumerGroupDescribe, 0, { groupIds: ['g-848'], includeAuthorizedOperations: false })
        ).body.groups[0]!;
        assert.equal(cg.errorCode, ErrorCode.NONE);
        assert.equal(cg.members[0]!.memberId, 'member-848');
        assert.equal(cg.members[0]!.memberEpoch, joined848.memberEpoch);
        assert.deepEqual(cg.members[0]!.assignment.topicPartitions[0]!.partitions, [0, 1, 2, 3]);
        const hb = await cgHeartbeat(k2!, {
          groupId: 'g-848',
          memberId: 'member-848',
          memberEpoch: joined848.memberEpoch,
          topicPartitions: joined848.assignment!.topicPartitions,
        });
        assert.equal(hb.errorCode, ErrorCode.NONE);
        assert.equal(hb.memberEpoch, joined848.memberEpoch);
        c!.close();
        k2!.close();
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('members that do not come back after a restart expire; the group empties and keeps its offsets', T, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tributary-groups-'));
    try {
      const first = await startGroupBroker({ dataDir });
      await createTopic(first, 'orders', 1);
      const [a] = await connect(first, 1);
      const joined = await joinWithId(a!, { groupId: 'g-gone', sessionTimeoutMs: 400, topics: ['orders'] });
      await syncGroup(a!, { groupId: 'g-gone', generationId: 1, memberId: joined.memberId, assignments: [] });
      await commit(a!, {
        groupId: 'g-gone',
        generationId: 1,
        memberId: joined.memberId,
        offsets: [{ topic: 'orders', partition: 0, offset: 5n }],
      });
      a!.close();
      await first.close();
      const second = await startGroupBroker({ dataDir });
      try {
        const [c] = await connect(second, 1);
        await waitFor('the group to empty', async () => {
          const d = (await c!.request(DescribeGroups, 5, { groups: ['g-gone'], includeAuthorizedOperations: false }))
            .body;
          return d.groups[0]!.groupState === 'Empty' ? true : undefined;
        });
        assert.equal((await fetchCommitted(c!, 'g-gone', null)).offsets.get('orders-0'), 5n);
        c!.close();
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** A coordinator on its own storage, with a clock the test moves. */
async function coordinatorWithClock(dataDir: string, clock: { now: number }, overrides: Record<string, string> = {}) {
  const config = new BrokerConfig({
    'log.dirs': dataDir,
    'offsets.topic.num.partitions': '3',
    'offsets.retention.minutes': '10',
    'offsets.retention.check.interval.ms': '0',
    'group.initial.rebalance.delay.ms': '0',
    'group.min.session.timeout.ms': '10',
    ...overrides,
  });
  const store = await TopicStore.open({ dataDir });
  const logs = await LogManager.open({ dataDir, retentionCheckIntervalMs: 0 });
  const topics = new TopicManager(store, logs, config);
  const groups = new GroupCoordinator({ config, logger: silentLogger(), topics, logs, clock: () => clock.now });
  await groups.load();
  // The coordinator's timers are unref'd (a broker's socket keeps the process alive); here nothing else would.
  const keepAlive = setInterval(() => {}, 1000);
  return {
    groups,
    topics,
    async close() {
      clearInterval(keepAlive);
      await groups.close();
      await logs.close();
    },
  };
}

const MINUTE = 60_000;

describe('offsets.retention.minutes', () => {
  test(
    'standalone offsets expire by commit time, explicit retention by its own clock; expired groups go',
    T,
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'tributary-expiry-'));
      const clock = { now: 1_000_000 };
      try {
        const { groups, topics, close } = await coordinatorWithClock(dataDir, clock);
        await topics.create({ name: 'orders', numPartitions: 2, replicationFactor: 1 });
        const commitAt = (groupId: string, partition: number, retentionTimeMs = -1n) =>
          groups.commitOffsets({
            apiVersion: retentionTimeMs === -1n ? 8 : 2,
            groupId,
            generationIdOrMemberEpoch: -1,
            memberId: '',
            groupInstanceId: null,
            retentionTimeMs,
            topics: [
              {
                name: 'orders',
                partitions: [
                  {
                    partitionIndex: partition,
                    committedOffset: 1n,
                    committedLeaderEpoch: -1,
                    commitTimestamp: -1n,
                    committedMetadata: '',
                  },
                ],
              },
            ],
          });
        await commitAt('g-simple', 0);
        clock.now += 5 * MINUTE;
        await commitAt('g-simple', 1);
        await commitAt('g-short', 0, 1000n);

        clock.now += 2000;
        await groups.expireOffsets();
        assert.equal(groups.fetchOffsets('g-short', null).topics.length, 0, 'explicit retention of 1 s passed');
        assert.ok(
          !groups.listGroups([], []).groups.some((g) => g.groupId === 'g-short'),
          'the empty group went with them',
        );

        clock.now += 5 * MINUTE;
        await groups.expireOffsets();
        const left = groups.fetchOffsets('g-simple', null).topics[0]!.partitions.map((p) => p.partitionIndex);
        assert.deepEqual(left, [1], 'partition 0 was committed 10 minutes ago');
        clock.now += 5 * MINUTE;
        await groups.expireOffsets();
        assert.equal(groups.fetchOffsets('g-simple', null).topics.length, 0);
        await close();

        // The tombstones are durable: a fresh coordinator loads nothing back.
        const again = await coordinatorWithClock(dataDir, clock);
        assert.equal(again.groups.fetchOffsets('g-simple', null).topics.length, 0);
        assert.deepEqual(again.groups.listGroups([], []).groups, []);
        await again.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  );

  test(
    'an empty group’s offsets expire a retention period after it emptied; a stable group keeps what it consumes',
    T,
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'tributary-expiry-'));
      const clock = { now: 1_000_000 };
      try {
        const { groups, topics, close } = await coordinatorWithClock(dataDir, clock);
        await topics.create({ name: 'orders', numPartitions: 1, replicationFactor: 1 });
        await topics.create({ name: 'old', numPartitions: 1, replicationFactor: 1 });
        const join = (groupId: string) =>
          groups.joinGroup({
            groupId,
            memberId: '',
            groupInstanceId: null,
            requireKnownMemberId: false,
            supportSkippingAssignment: false,
            clientId: 'c',
            clientHost: '/127.0.0.1',
            rebalanceTimeoutMs: 60_000,
            sessionTimeoutMs: 60_000,
            protocolType: 'consumer',
            protocols: [{ name: 'range', metadata: subscription(['orders']) }],
          });
        const commitAs = (groupId: string, generation: number, memberId: string, topic: string) =>
          groups.commitOffsets({
            apiVersion: 8,
            groupId,
            generationIdOrMemberEpoch: generation,
            memberId,
            groupInstanceId: null,
            retentionTimeMs: -1n,
            topics: [
              {
                name: topic,
                partitions: [
                  {
                    partitionIndex: 0,
                    committedOffset: 3n,
                    committedLeaderEpoch: -1,
                    commitTimestamp: -1n,
                    committedMetadata: '',
                  },
                ],
              },
            ],
          });
        // A stable consumer group committing to a topic it consumes and to one it no longer does.
        const m = await join('g-stable');
        await groups.syncGroup({
          groupId: 'g-stable',
          generationId: m.generationId,
          memberId: m.memberId,
          groupInstanceId: null,
          protocolType: 'consumer',
          protocolName: 'range',
          assignments: [],
        });
        assert.deepEqual(await commitAs('g-stable', m.generationId, m.memberId, 'orders'), [
          { name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }] },
        ]);
        await commitAs('g-stable', m.generationId, m.memberId, 'old');
        // A group whose only member leaves later.
        const e = await join('g-emptied');
        await groups.syncGroup({
          groupId: 'g-emptied',
          generationId: e.generationId,
          memberId: e.memberId,
          groupInstanceId: null,
          protocolType: 'consumer',
          protocolName: 'range',
          assignments: [],
        });
        await commitAs('g-emptied', e.generationId, e.memberId, 'orders');
        clock.now += 8 * MINUTE;
        await groups.leaveGroup('g-emptied', [{ memberId: e.memberId, groupInstanceId: null }]);

        clock.now += 4 * MINUTE;
        await groups.expireOffsets();
        const stable = groups.fetchOffsets('g-stable', null).topics.map((t) => t.name);
        assert.deepEqual(stable, ['orders'], 'the unconsumed topic expired, the consumed one stays');
        assert.equal(groups.fetchOffsets('g-emptied', null).topics.length, 1, 'counted from when the group emptied');
        clock.now += 7 * MINUTE;
        await groups.expireOffsets();
        assert.equal(groups.fetchOffsets('g-emptied', null).topics.length, 0);
        assert.deepEqual(
          groups.listGroups([], []).groups.map((g) => g.groupId),
          ['g-stable'],
        );
        await close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  );
});
