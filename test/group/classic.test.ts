/**
 * The classic group protocol over the raw wire: FindCoordinator, JoinGroup in old and new
 * versions, SyncGroup, Heartbeat, LeaveGroup, and the errors Kafka answers with and when.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OFFSETS_TOPIC } from '../../src/broker/group/state-log.ts';
import type { StartedBroker } from '../../src/broker/start-broker.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import type { RawClient } from '../helpers/raw-client.ts';
import {
  assignmentBytes,
  commit,
  connect,
  createTopic,
  DeleteGroups,
  DescribeGroups,
  FindCoordinator,
  heartbeat,
  JoinGroup,
  joinGroup,
  joinWithId,
  LeaveGroup,
  ListGroups,
  parseAssignment,
  sleep,
  startGroupBroker,
  subscription,
  syncGroup,
} from './helpers.ts';

const T = { timeout: 30_000 };

describe('classic groups', () => {
  let broker: StartedBroker;
  const clients: RawClient[] = [];
  const open = async (n: number) => {
    const cs = await connect(broker, n);
    clients.push(...cs);
    return cs;
  };
  before(async () => {
    broker = await startGroupBroker();
    await createTopic(broker, 't', 4);
  });
  after(async () => {
    for (const c of clients) c.close();
    await broker.close();
  });

  test(
    'FindCoordinator v0–v4 names this broker and creates the offsets topic; transactional ids resolve here too',
    T,
    async () => {
      const [c] = await open(1);
      for (const version of [0, 1, 2, 3]) {
        const { body } = await c!.request(FindCoordinator, version, { key: 'g-find', keyType: 0, coordinatorKeys: [] });
        assert.equal(body.errorCode, ErrorCode.NONE, `v${version}`);
        assert.equal(body.nodeId, broker.broker.services.nodeId);
        assert.equal(body.host, broker.host);
        assert.equal(body.port, broker.port);
      }
      const { body } = await c!.request(FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: ['a', 'b'] });
      assert.deepEqual(
        body.coordinators.map((x) => [x.key, x.errorCode, x.port]),
        [
          ['a', ErrorCode.NONE, broker.port],
          ['b', ErrorCode.NONE, broker.port],
        ],
      );
      const txn = await c!.request(FindCoordinator, 4, { key: '', keyType: 1, coordinatorKeys: ['tx'] });
      assert.equal(txn.body.coordinators[0]!.errorCode, ErrorCode.NONE);
      assert.equal(txn.body.coordinators[0]!.port, broker.port);
      const topic = broker.broker.services.topics.get(OFFSETS_TOPIC)!;
      assert.equal(topic.partitionCount, 5);
      assert.equal(topic.isInternal, true);
      assert.equal(topic.replicationFactor, 1);
      assert.equal(topic.configs['cleanup.policy'], 'compact');
      const advertised = broker.broker.services.router.apiVersions().find((a) => a.apiKey === 10)!;
      assert.deepEqual([advertised.minVersion, advertised.maxVersion], [0, 4]);
    },
  );

  test(
    'JoinGroup v4+: a new member gets MEMBER_ID_REQUIRED, then joins with that id as leader of generation 1',
    T,
    async () => {
      const [c] = await open(1);
      const first = await joinGroup(c!, { groupId: 'g-required', version: 5 });
      assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
      assert.match(first.memberId, /^raw-test-[0-9a-f-]{36}$/);
      const joined = await joinGroup(c!, { groupId: 'g-required', version: 5, memberId: first.memberId });
      assert.equal(joined.errorCode, ErrorCode.NONE);
      assert.equal(joined.generationId, 1);
      assert.equal(joined.leader, first.memberId);
      assert.equal(joined.protocolName, 'range');
      assert.deepEqual(
        joined.members.map((m) => m.memberId),
        [first.memberId],
      );
      const synced = await syncGroup(c!, {
        groupId: 'g-required',
        generationId: 1,
        memberId: first.memberId,
        assignments: [{ memberId: first.memberId, assignment: assignmentBytes({ t: [0, 1, 2, 3] }) }],
      });
      assert.equal(synced.errorCode, ErrorCode.NONE);
      assert.deepEqual(parseAssignment(synced.assignment), { t: [0, 1, 2, 3] });
    },
  );

  test('JoinGroup v0–v3 join directly; v0 uses the session timeout as rebalance timeout', T, async () => {
    for (const version of [0, 1, 2, 3]) {
      const [c] = await open(1);
      const joined = await joinGroup(c!, { groupId: `g-old-${version}`, version });
      assert.equal(joined.errorCode, ErrorCode.NONE, `v${version}`);
      assert.equal(joined.generationId, 1);
      assert.notEqual(joined.memberId, '');
      const synced = await syncGroup(c!, {
        version: 0,
        groupId: `g-old-${version}`,
        generationId: 1,
        memberId: joined.memberId,
        assignments: [{ memberId: joined.memberId, assignment: assignmentBytes({ t: [0] }) }],
        protocolName: null,
      });
      assert.equal(synced.errorCode, ErrorCode.NONE);
    }
  });

  test(
    'a second member triggers a rebalance: REBALANCE_IN_PROGRESS, rejoin, followers wait for the leader’s assignment',
    T,
    async () => {
      const [a, b] = await open(2);
      const g = 'g-two';
      const ja = await joinWithId(a!, { groupId: g });
      await syncGroup(a!, { groupId: g, generationId: ja.generationId, memberId: ja.memberId, assignments: [] });
      assert.equal(await heartbeat(a!, { groupId: g, generationId: 1, memberId: ja.memberId }), ErrorCode.NONE);

      const joiningB = joinWithId(b!, { groupId: g });
      await sleep(100);
      assert.equal(
        await heartbeat(a!, { groupId: g, generationId: 1, memberId: ja.memberId }),
        ErrorCode.REBALANCE_IN_PROGRESS,
      );
      // A commit with the current generation is still accepted while preparing the rebalance.
      const committed = await commit(a!, {
        groupId: g,
        generationId: 1,
        memberId: ja.memberId,
        offsets: [{ topic: 't', partition: 0, offset: 5n }],
      });
      assert.equal(committed.get('t-0'), ErrorCode.NONE);
      const ja2 = await joinGroup(a!, { groupId: g, memberId: ja.memberId });
      const jb = await joiningB;
      assert.equal(ja2.generationId, 2);
      assert.equal(jb.generationId, 2);
      assert.equal(ja2.leader, ja.memberId, 'the leader stays');
      assert.equal(ja2.members.length, 2);
      assert.equal(jb.members.length, 0, 'followers do not get the member list');

      // Heartbeat and commit between join and sync: fine, and REBALANCE_IN_PROGRESS for the commit.
      assert.equal(await heartbeat(b!, { groupId: g, generationId: 2, memberId: jb.memberId }), ErrorCode.NONE);
      const early = await commit(b!, {
        groupId: g,
        generationId: 2,
        memberId: jb.memberId,
        offsets: [{ topic: 't', partition: 1, offset: 1n }],
      });
      assert.equal(early.get('t-1'), ErrorCode.REBALANCE_IN_PROGRESS);

      const followerSync = syncGroup(b!, { groupId: g, generationId: 2, memberId: jb.memberId });
      await sleep(50);
      const leaderSync = await syncGroup(a!, {
        groupId: g,
        generationId: 2,
        memberId: ja.memberId,
        assignments: [
          { memberId: ja.memberId, assignment: assignmentBytes({ t: [0, 1] }) },
          { memberId: jb.memberId, assignment: assignmentBytes({ t: [2, 3] }) },
        ],
      });
      assert.deepEqual(parseAssignment(leaderSync.assignment), { t: [0, 1] });
      assert.deepEqual(parseAssignment((await followerSync).assignment), { t: [2, 3] });

      // The old generation is over.
      assert.equal(
        await heartbeat(a!, { groupId: g, generationId: 1, memberId: ja.memberId }),
        ErrorCode.ILLEGAL_GENERATION,
      );
      const stale = await commit(a!, {
        groupId: g,
        generationId: 1,
        memberId: ja.memberId,
        offsets: [{ topic: 't', partition: 0, offset: 6n }],
      });
      assert.equal(stale.get('t-0'), ErrorCode.ILLEGAL_GENERATION);
      const stableSync = await syncGroup(b!, { groupId: g, generationId: 1, memberId: jb.memberId });
      assert.equal(stableSync.errorCode, ErrorCode.ILLEGAL_GENERATION);
      // A standalone commit (generation −1, no member) is refused while the group has members.
      const outsider = await commit(a!, { groupId: g, offsets: [{ topic: 't', partition: 0, offset: 9n }] });
      assert.equal(outsider.get('t-0'), ErrorCode.UNKNOWN_MEMBER_ID);

      const described = await a!.request(DescribeGroups, 5, { groups: [g], includeAuthorizedOperations: true });
      const d = described.body.groups[0]!;
      assert.equal(d.groupState, 'Stable');
      assert.equal(d.protocolType, 'consumer');
      assert.equal(d.protocolData, 'range');
      assert.equal(d.members.length, 2);
      const bDescribed = d.members.find((m) => m.memberId === jb.memberId)!;
      assert.deepEqual(parseAssignment(bDescribed.memberAssignment), { t: [2, 3] });
      assert.equal(bDescribed.clientHost, '/127.0.0.1');
      assert.equal(bDescribed.clientId, 'raw-test');
    },
  );

  test('the protocol is one all members support; others get INCONSISTENT_GROUP_PROTOCOL', T, async () => {
    const [a, b, c, d] = await open(4);
    const g = 'g-protocols';
    const meta = subscription(['t']);
    const ja = joinWithId(a!, {
      groupId: g,
      protocols: [
        { name: 'range', metadata: meta },
        { name: 'roundrobin', metadata: meta },
      ],
    });
    const jb = joinWithId(b!, { groupId: g, protocols: [{ name: 'roundrobin', metadata: meta }] });
    const [ra, rb] = await Promise.all([ja, jb]);
    assert.equal(ra.protocolName, 'roundrobin');
    assert.equal(rb.protocolName, 'roundrobin');
    const rc = await joinWithId(c!, { groupId: g, protocols: [{ name: 'sticky', metadata: meta }] });
    assert.equal(rc.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const rd = await joinWithId(d!, {
      groupId: g,
      protocolType: 'connect',
      protocols: [{ name: 'roundrobin', metadata: meta }],
    });
    assert.equal(rd.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const empty = await joinWithId(d!, { groupId: 'g-no-protocols', protocols: [] });
    assert.equal(empty.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  });

  test('bad requests: unknown member, unknown group, session timeout out of range, empty group id', T, async () => {
    const [c] = await open(1);
    assert.equal(
      (await joinGroup(c!, { groupId: 'g-nope', memberId: 'who' })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
      'a member id for a group that does not exist',
    );
    assert.equal(
      await heartbeat(c!, { groupId: 'g-nope', generationId: 1, memberId: 'who' }),
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    assert.equal(
      (await syncGroup(c!, { groupId: 'g-nope', generationId: 1, memberId: 'who' })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    assert.equal(
      (await joinGroup(c!, { groupId: 'g-x', sessionTimeoutMs: 50 })).errorCode,
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    assert.equal((await joinGroup(c!, { groupId: '' })).errorCode, ErrorCode.INVALID_GROUP_ID);
    const joined = await joinWithId(c!, { groupId: 'g-bad' });
    assert.equal(
      await heartbeat(c!, { groupId: 'g-bad', generationId: joined.generationId, memberId: 'someone-else' }),
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    // SyncGroup v5 must name the protocol type and name.
    const { body } = await c!.request(
      {
        request: (await import('./helpers.ts')).SyncGroup.request,
        response: (await import('./helpers.ts')).SyncGroup.response,
      },
      5,
      {
        groupId: 'g-bad',
        generationId: joined.generationId,
        memberId: joined.memberId,
        groupInstanceId: null,
        protocolType: null,
        protocolName: null,
        assignments: [],
      },
    );
    assert.equal(body.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  });

  test('a member that stops heartbeating is removed after its session timeout; the others rebalance', T, async () => {
    const [a, b] = await open(2);
    const g = 'g-session';
    const [ja, jb] = await Promise.all([
      joinWithId(a!, { groupId: g, sessionTimeoutMs: 300 }),
      joinWithId(b!, { groupId: g, sessionTimeoutMs: 300 }),
    ]);
    assert.equal(ja.generationId, 1);
    const leader = ja.leader === ja.memberId ? a! : b!;
    const leaderId = ja.leader;
    const follower = leader === a ? b! : a!;
    const followerId = leader === a ? jb.memberId : ja.memberId;
    await Promise.all([
      syncGroup(leader, { groupId: g, generationId: 1, memberId: leaderId, assignments: [] }),
      syncGroup(follower, { groupId: g, generationId: 1, memberId: followerId }),
    ]);
    // Only the leader keeps heartbeating.
    let code: number = ErrorCode.NONE;
    for (let i = 0; i < 20 && code === ErrorCode.NONE; i++) {
      await sleep(100);
      code = await heartbeat(leader, { groupId: g, generationId: 1, memberId: leaderId });
    }
    assert.equal(code, ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoined = await joinGroup(leader, { groupId: g, memberId: leaderId, sessionTimeoutMs: 300 });
    assert.equal(rejoined.generationId, 2);
    assert.deepEqual(
      rejoined.members.map((m) => m.memberId),
      [leaderId],
    );
    assert.equal(
      await heartbeat(follower, { groupId: g, generationId: 1, memberId: followerId }),
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
  });

  test(
    'a member that does not rejoin within the rebalance timeout is dropped; the rebalance waits that long, not less',
    T,
    async () => {
      const [a, b] = await open(2);
      const g = 'g-rebalance-timeout';
      const opts = { groupId: g, sessionTimeoutMs: 5000, rebalanceTimeoutMs: 600 };
      const [ja, jb] = await Promise.all([joinWithId(a!, opts), joinWithId(b!, opts)]);
      await Promise.all([
        syncGroup(a!, { groupId: g, generationId: 1, memberId: ja.memberId, assignments: [] }),
        syncGroup(b!, { groupId: g, generationId: 1, memberId: jb.memberId }),
      ]);
      // a asks for a rebalance (the leader rejoining, or a changed subscription); b never rejoins.
      const started = performance.now();
      const changed = { ...opts, memberId: ja.memberId, topics: ['t', 'other'] };
      const rejoined = await joinGroup(a!, changed);
      const waited = performance.now() - started;
      assert.equal(rejoined.errorCode, ErrorCode.NONE);
      assert.equal(rejoined.generationId, 2);
      assert.ok(waited >= 550, `the rebalance completed after ${waited} ms`);
      assert.deepEqual(
        rejoined.members.map((m) => m.memberId),
        [ja.memberId],
      );
      assert.equal(
        await heartbeat(b!, { groupId: g, generationId: 1, memberId: jb.memberId }),
        ErrorCode.UNKNOWN_MEMBER_ID,
      );
    },
  );

  test(
    'a member slower than its session timeout that keeps heartbeating is waited for, up to the rebalance timeout',
    T,
    async () => {
      const [a, b, c] = await open(3);
      const g = 'g-slow';
      const opts = { groupId: g, sessionTimeoutMs: 300, rebalanceTimeoutMs: 5000 };
      const [ja, jb] = await Promise.all([joinWithId(a!, opts), joinWithId(b!, opts)]);
      await Promise.all([
        syncGroup(a!, { groupId: g, generationId: 1, memberId: ja.memberId, assignments: [] }),
        syncGroup(b!, { groupId: g, generationId: 1, memberId: jb.memberId }),
      ]);
      const started = performance.now();
      const joiningC = joinWithId(c!, opts);
      const joiningB = (async () => {
        while ((await heartbeat(b!, { groupId: g, generationId: 1, memberId: jb.memberId })) === ErrorCode.NONE)
          await sleep(50);
        return joinGroup(b!, { ...opts, memberId: jb.memberId });
      })();
      // a is busy for four session timeouts, heartbeating all along, and only then rejoins.
      while (performance.now() - started < 1200) {
        const code = await heartbeat(a!, { groupId: g, generationId: 1, memberId: ja.memberId });
        assert.ok(code === ErrorCode.NONE || code === ErrorCode.REBALANCE_IN_PROGRESS, `heartbeat answered ${code}`);
        await sleep(100);
      }
      const ra = await joinGroup(a!, { ...opts, memberId: ja.memberId });
      const [rb, rc] = await Promise.all([joiningB, joiningC]);
      assert.ok(performance.now() - started >= 1150);
      assert.deepEqual([ra.generationId, rb.generationId, rc.generationId], [2, 2, 2]);
      assert.equal(ra.members.length + rb.members.length + rc.members.length, 3, 'three members, listed to the leader');
    },
  );

  test('group.initial.rebalance.delay.ms gathers members that arrive together into generation 1', T, async () => {
    const [a, b, c] = await open(3);
    const g = 'g-initial-delay';
    const results = await Promise.all([a, b, c].map((x) => joinWithId(x!, { groupId: g })));
    assert.deepEqual(
      results.map((r) => r.generationId),
      [1, 1, 1],
    );
    assert.equal(results.find((r) => r.memberId === r.leader)!.members.length, 3);
  });

  test(
    'static membership: a restarted instance replaces its old member id without a rebalance; the old id is fenced',
    T,
    async () => {
      const [a, b] = await open(2);
      const g = 'g-static';
      const first = await joinGroup(a!, { groupId: g, version: 9, groupInstanceId: 'inst-1' });
      assert.equal(first.errorCode, ErrorCode.NONE, 'static members need no MEMBER_ID_REQUIRED round');
      assert.match(first.memberId, /^inst-1-/);
      await syncGroup(a!, {
        groupId: g,
        generationId: 1,
        memberId: first.memberId,
        groupInstanceId: 'inst-1',
        assignments: [{ memberId: first.memberId, assignment: assignmentBytes({ t: [0, 1, 2, 3] }) }],
      });
      // The instance comes back (new process, empty member id) while the group is Stable.
      const again = await joinGroup(b!, { groupId: g, version: 9, groupInstanceId: 'inst-1' });
      assert.equal(again.errorCode, ErrorCode.NONE);
      assert.notEqual(again.memberId, first.memberId);
      assert.equal(again.generationId, 1, 'no new generation');
      assert.equal(again.skipAssignment, true, 'v9: the static leader is told not to assign');
      assert.equal(again.leader, again.memberId);
      const synced = await syncGroup(b!, {
        groupId: g,
        generationId: 1,
        memberId: again.memberId,
        groupInstanceId: 'inst-1',
      });
      assert.deepEqual(parseAssignment(synced.assignment), { t: [0, 1, 2, 3] }, 'it gets its old assignment back');
      assert.equal(
        await heartbeat(a!, { groupId: g, generationId: 1, memberId: first.memberId, groupInstanceId: 'inst-1' }),
        ErrorCode.FENCED_INSTANCE_ID,
      );
      assert.equal(
        (await joinGroup(a!, { groupId: g, version: 9, memberId: first.memberId, groupInstanceId: 'inst-1' }))
          .errorCode,
        ErrorCode.FENCED_INSTANCE_ID,
      );
      const fencedCommit = await commit(a!, {
        groupId: g,
        generationId: 1,
        memberId: first.memberId,
        groupInstanceId: 'inst-1',
        offsets: [{ topic: 't', partition: 0, offset: 1n }],
      });
      assert.equal(fencedCommit.get('t-0'), ErrorCode.FENCED_INSTANCE_ID);
      assert.equal(
        await heartbeat(b!, { groupId: g, generationId: 1, memberId: again.memberId, groupInstanceId: 'inst-1' }),
        ErrorCode.NONE,
      );
      // An unknown instance id with a member id is UNKNOWN_MEMBER_ID.
      assert.equal(
        await heartbeat(b!, { groupId: g, generationId: 1, memberId: again.memberId, groupInstanceId: 'inst-9' }),
        ErrorCode.UNKNOWN_MEMBER_ID,
      );
    },
  );

  test(
    'LeaveGroup: batches of members (v3+), by instance id, per-member errors; v0–v2 fold the member error in',
    T,
    async () => {
      const [a, b, c] = await open(3);
      const g = 'g-leave';
      const [ja, jb, jc] = await Promise.all([
        joinWithId(a!, { groupId: g }),
        joinWithId(b!, { groupId: g }),
        joinGroup(c!, { groupId: g, groupInstanceId: 'leaver' }),
      ]);
      const { body } = await a!.request(LeaveGroup, 5, {
        groupId: g,
        memberId: '',
        members: [
          { memberId: ja.memberId, groupInstanceId: null, reason: 'bye' },
          { memberId: 'not-a-member', groupInstanceId: null, reason: null },
          { memberId: '', groupInstanceId: 'leaver', reason: null },
        ],
      });
      assert.equal(body.errorCode, ErrorCode.NONE);
      assert.deepEqual(
        body.members.map((m) => m.errorCode),
        [ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.NONE],
      );
      void jc;
      const v0 = await b!.request(LeaveGroup, 0, { groupId: g, memberId: 'ghost', members: [] });
      assert.equal(v0.body.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
      const ok = await b!.request(LeaveGroup, 1, { groupId: g, memberId: jb.memberId, members: [] });
      assert.equal(ok.body.errorCode, ErrorCode.NONE);
      const described = await a!.request(DescribeGroups, 5, { groups: [g], includeAuthorizedOperations: false });
      assert.equal(described.body.groups[0]!.groupState, 'Empty');
      assert.equal(described.body.groups[0]!.members.length, 0);
    },
  );

  test('ListGroups filters by state and type; DeleteGroups refuses groups with members', T, async () => {
    const [a] = await open(1);
    const g = 'g-list';
    const joined = await joinWithId(a!, { groupId: g });
    await syncGroup(a!, { groupId: g, generationId: joined.generationId, memberId: joined.memberId, assignments: [] });
    const all = await a!.request(ListGroups, 5, { statesFilter: [], typesFilter: [] });
    const mine = all.body.groups.find((x) => x.groupId === g)!;
    assert.deepEqual(
      { protocolType: mine.protocolType, groupState: mine.groupState, groupType: mine.groupType },
      { protocolType: 'consumer', groupState: 'Stable', groupType: 'classic' },
    );
    const stable = await a!.request(ListGroups, 4, { statesFilter: ['stable'], typesFilter: [] });
    assert.ok(stable.body.groups.some((x) => x.groupId === g));
    assert.ok(stable.body.groups.every((x) => x.groupState === 'Stable'));
    const empty = await a!.request(ListGroups, 5, { statesFilter: ['Empty'], typesFilter: [] });
    assert.ok(!empty.body.groups.some((x) => x.groupId === g));
    const consumerType = await a!.request(ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] });
    assert.ok(!consumerType.body.groups.some((x) => x.groupId === g));
    const v0 = await a!.request(ListGroups, 0, { statesFilter: [], typesFilter: [] });
    assert.ok(v0.body.groups.some((x) => x.groupId === g));

    let deleted = await a!.request(DeleteGroups, 2, { groupsNames: [g, 'g-never'] });
    assert.deepEqual(
      deleted.body.results.map((r) => [r.groupId, r.errorCode]),
      [
        [g, ErrorCode.NON_EMPTY_GROUP],
        ['g-never', ErrorCode.GROUP_ID_NOT_FOUND],
      ],
    );
    await a!.request(LeaveGroup, 3, {
      groupId: g,
      memberId: '',
      members: [{ memberId: joined.memberId, groupInstanceId: null, reason: null }],
    });
    deleted = await a!.request(DeleteGroups, 0, { groupsNames: [g] });
    assert.equal(deleted.body.results[0]!.errorCode, ErrorCode.NONE);
    const gone = await a!.request(DescribeGroups, 0, { groups: [g], includeAuthorizedOperations: false });
    assert.equal(gone.body.groups[0]!.groupState, 'Dead');
  });

  test('a JoinGroup left waiting when the broker stops gets an answer (no hang)', T, async () => {
    const own = await startGroupBroker({ config: { 'group.initial.rebalance.delay.ms': 10_000 } });
    const [c] = await connect(own, 1);
    const joining = c!.request(JoinGroup, 2, {
      groupId: 'g-stop',
      sessionTimeoutMs: 5000,
      rebalanceTimeoutMs: 20_000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription(['t']) }],
      reason: null,
    });
    await sleep(100);
    const started = performance.now();
    await own.close();
    assert.ok(performance.now() - started < 3000, 'close did not wait for the rebalance');
    const answered = await joining.catch(() => null);
    if (answered !== null) assert.equal(answered.body.errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal(own.broker.services.groups.pendingTimers, 0);
    c!.close();
  });
});
