/**
 * Coordinator pieces without a broker: the group → partition mapping Kafka uses, the
 * `__consumer_offsets` record formats (byte for byte), and the server-side assignors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Assignment, assignmentSize, hasPartition } from '../../src/broker/group/assignment.ts';
import {
  type AssignorMember,
  isCompleteAssignment,
  rangeAssign,
  uniformAssign,
} from '../../src/broker/group/assignors.ts';
import { ClassicGroup, ClassicMember } from '../../src/broker/group/classic-group.ts';
import { javaStringHashCode, partitionForGroup } from '../../src/broker/group/partition-for.ts';
import { decodeGroupRecord, encodeGroupRecord } from '../../src/broker/group/records.ts';
import { KeyedSerialQueue } from '../../src/broker/group/serial-queue.ts';
import { subscription } from './helpers.ts';

describe('group → __consumer_offsets partition', () => {
  test("Java's String.hashCode, int32 wrap-around included", () => {
    assert.equal(javaStringHashCode(''), 0);
    assert.equal(javaStringHashCode('a'), 97);
    assert.equal(javaStringHashCode('hello'), 99162322);
    // The classic string whose hash is Integer.MIN_VALUE: Kafka's Utils.abs maps it to 0.
    assert.equal(javaStringHashCode('polygenelubricants'), -0x80000000);
    assert.equal(partitionForGroup('polygenelubricants', 50), 0);
  });

  test('abs(hashCode) % numPartitions, as Kafka places groups', () => {
    assert.equal(partitionForGroup('hello', 50), 99162322 % 50);
    const negative = 'console-consumer-12345';
    const h = javaStringHashCode(negative);
    assert.equal(partitionForGroup(negative, 50), Math.abs(h) % 50);
    // Code units, not code points: a surrogate pair hashes as two units.
    assert.equal(javaStringHashCode('😀'), 0xd83d * 31 + 0xde00);
  });
});

describe('__consumer_offsets records', () => {
  test('an offset commit is key v1 (group, topic, partition) and value v3, byte for byte', () => {
    const { key, value } = encodeGroupRecord({
      type: 'offset-commit',
      key: { group: 'g', topic: 'tp', partition: 3 },
      value: { offset: 42n, leaderEpoch: 7, metadata: 'm', commitTimestamp: 1700000000000n, expireTimestamp: -1n },
    });
    assert.equal(key.toString('hex'), ['0001', '0001', '67', '0002', '7470', '00000003'].join(''));
    assert.equal(
      value!.toString('hex'),
      ['0003', '000000000000002a', '00000007', '0001', '6d', '0000018bcfe56800'].join(''),
    );
  });

  test('a commit with an expire timestamp (OffsetCommit v2–v4 retention) is value v1', () => {
    const { value } = encodeGroupRecord({
      type: 'offset-commit',
      key: { group: 'g', topic: 't', partition: 0 },
      value: { offset: 1n, leaderEpoch: -1, metadata: '', commitTimestamp: 10n, expireTimestamp: 99n },
    });
    assert.equal(value!.readInt16BE(0), 1);
    assert.equal(value!.length, 2 + 8 + 2 + 8 + 8);
  });

  test('group metadata is key v2 and value v3; deletes are tombstones', () => {
    const record = {
      type: 'group-metadata' as const,
      key: { group: 'g1' },
      value: {
        protocolType: 'consumer',
        generation: 4,
        protocol: 'range',
        leader: 'm1',
        currentStateTimestamp: 123n,
        members: [
          {
            memberId: 'm1',
            groupInstanceId: 'i1',
            clientId: 'c',
            clientHost: '/127.0.0.1',
            rebalanceTimeout: 60000,
            sessionTimeout: 10000,
            subscription: subscription(['t']),
            assignment: Buffer.from([0, 0]),
          },
        ],
      },
    };
    const { key, value } = encodeGroupRecord(record);
    assert.equal(key.readInt16BE(0), 2);
    assert.equal(value!.readInt16BE(0), 3);
    assert.deepEqual(decodeGroupRecord(key, value), record);
    const tomb = encodeGroupRecord({ type: 'group-metadata', key: { group: 'g1' }, value: null });
    assert.equal(tomb.value, null);
    assert.deepEqual(decodeGroupRecord(tomb.key, null), { type: 'group-metadata', key: { group: 'g1' }, value: null });
  });

  test('KIP-848 records round-trip under their key versions 3–8; unknown key versions are skipped', () => {
    const records = [
      { type: 'consumer-group-metadata' as const, key: { groupId: 'g' }, value: { epoch: 5 } },
      {
        type: 'consumer-group-current-member-assignment' as const,
        key: { groupId: 'g', memberId: 'm' },
        value: {
          memberEpoch: 5,
          previousMemberEpoch: 4,
          state: 2,
          assignedPartitions: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAQ', partitions: [0, 2] }],
          partitionsPendingRevocation: [],
        },
      },
    ];
    const versions = records.map((r) => encodeGroupRecord(r).key.readInt16BE(0));
    assert.deepEqual(versions, [3, 8]);
    for (const r of records) {
      const { key, value } = encodeGroupRecord(r);
      assert.deepEqual(decodeGroupRecord(key, value), r);
    }
    const share = Buffer.from([0, 10, 0, 1, 0x67]);
    assert.equal(decodeGroupRecord(share, null), null);
  });

  test('key version 0 (the older offset commit key) still decodes', () => {
    const key = Buffer.from(['0000', '0001', '67', '0001', '74', '00000001'].join(''), 'hex');
    const value = encodeGroupRecord({
      type: 'offset-commit',
      key: { group: 'g', topic: 't', partition: 1 },
      value: { offset: 5n, leaderEpoch: -1, metadata: '', commitTimestamp: 1n, expireTimestamp: -1n },
    }).value;
    const decoded = decodeGroupRecord(key, value);
    assert.equal(decoded?.type, 'offset-commit');
    assert.deepEqual(decoded?.key, { group: 'g', topic: 't', partition: 1 });
  });
});

function members(spec: Record<string, string[]>, current: Record<string, Assignment> = {}): AssignorMember[] {
  return Object.entries(spec).map(([memberId, topics]) => ({
    memberId,
    subscribedTopicIds: new Set(topics),
    current: current[memberId] ?? new Map(),
  }));
}

describe('server-side assignors', () => {
  test('uniform: balanced, every partition once', () => {
    const m = members({ a: ['T1', 'T2'], b: ['T1', 'T2'], c: ['T1', 'T2'] });
    const topics = new Map([
      ['T1', 6],
      ['T2', 4],
    ]);
    const result = uniformAssign(m, topics);
    assert.ok(isCompleteAssignment(result, m, topics));
    const sizes = [...result.values()].map(assignmentSize).sort();
    assert.deepEqual(sizes, [3, 3, 4]);
  });

  test('uniform: sticky — a new member takes partitions only from the overloaded ones', () => {
    const topics = new Map([['T', 6]]);
    const before = uniformAssign(members({ a: ['T'], b: ['T'] }), topics);
    const after = uniformAssign(members({ a: ['T'], b: ['T'], c: ['T'] }, Object.fromEntries(before)), topics);
    for (const id of ['a', 'b']) {
      const kept = [...after.get(id)!.get('T')!].filter((p) => before.get(id)!.get('T')!.has(p));
      assert.equal(kept.length, 2, `${id} keeps two of its three partitions`);
    }
    assert.equal(assignmentSize(after.get('c')!), 2);
  });

  test('uniform: members only get topics they subscribe to, and balance within that', () => {
    const m = members({ a: ['T1'], b: ['T1', 'T2'], c: ['T2'] });
    const topics = new Map([
      ['T1', 4],
      ['T2', 4],
    ]);
    const result = uniformAssign(m, topics);
    assert.ok(isCompleteAssignment(result, m, topics));
    assert.ok(!result.get('a')!.has('T2'));
    assert.ok(!result.get('c')!.has('T1'));
    assert.deepEqual([...result.values()].map(assignmentSize).sort(), [2, 3, 3].sort());
  });

  test('range: contiguous ranges per topic by member id, co-partitioned topics line up', () => {
    const m = members({ b: ['T1', 'T2'], a: ['T1', 'T2'] });
    const topics = new Map([
      ['T1', 5],
      ['T2', 5],
    ]);
    const result = rangeAssign(m, topics);
    assert.deepEqual([...result.get('a')!.get('T1')!], [0, 1, 2]);
    assert.deepEqual([...result.get('b')!.get('T1')!], [3, 4]);
    assert.deepEqual([...result.get('a')!.get('T2')!], [0, 1, 2]);
    assert.ok(hasPartition(result.get('b')!, 'T2', 4));
  });
});

describe('classic group rules', () => {
  const member = (id: string, protocols: string[]) =>
    new ClassicMember({
      memberId: id,
      groupInstanceId: null,
      clientId: 'c',
      clientHost: 'h',
      rebalanceTimeoutMs: 1000,
      sessionTimeoutMs: 1000,
      protocolType: 'consumer',
      supportedProtocols: protocols.map((name) => ({ name, metadata: Buffer.alloc(0) })),
    });

  test('the protocol is one every member supports, chosen by the members’ first preferences', () => {
    const g = new ClassicGroup('g', 0);
    g.add(member('a', ['range', 'roundrobin']), null);
    g.add(member('b', ['roundrobin', 'range']), null);
    g.add(member('c', ['roundrobin']), null);
    assert.deepEqual([...g.candidateProtocols()].sort(), ['roundrobin']);
    assert.equal(g.selectProtocol(), 'roundrobin');
    g.state = 'Stable';
    assert.equal(g.supportsProtocols('consumer', [{ name: 'range', metadata: Buffer.alloc(0) }]), false);
    assert.equal(g.supportsProtocols('consumer', [{ name: 'roundrobin', metadata: Buffer.alloc(0) }]), true);
    assert.equal(g.supportsProtocols('connect', [{ name: 'roundrobin', metadata: Buffer.alloc(0) }]), false);
  });

  test('the leader moves to a remaining member when it leaves', () => {
    const g = new ClassicGroup('g', 0);
    g.add(member('a', ['range']), null);
    g.add(member('b', ['range']), null);
    assert.equal(g.leaderId, 'a');
    g.remove('a');
    assert.equal(g.leaderId, 'b');
  });
});

test('serial queue: tasks of one key run one at a time, in order; keys are independent', async () => {
  const q = new KeyedSerialQueue();
  const log: string[] = [];
  const task = (name: string, ms: number) => async () => {
    log.push(`${name}+`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`${name}-`);
  };
  await Promise.all([q.run('a', task('a1', 20)), q.run('a', task('a2', 1)), q.run('b', task('b1', 5))]);
  assert.deepEqual(
    log.filter((x) => x.startsWith('a')),
    ['a1+', 'a1-', 'a2+', 'a2-'],
  );
  assert.ok(log.indexOf('b1+') < log.indexOf('a1-'), 'b does not wait for a');
  await q
    .run('a', () => {
      throw new Error('boom');
    })
    .catch(() => {});
  assert.equal(await q.run('a', () => 7), 7, 'a failed task does not block the queue');
});
