import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import {
  cooperativeStickyAssignor,
  type GroupMember,
  rangeAssignor,
  rebalanceProtocol,
  roundRobinAssignor,
} from '../../src/client/consumer/assignors.ts';
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
} from '../../src/client/consumer/consumer-protocol.ts';
import type { TopicPartition } from '../../src/client/metadata.ts';

const require = createRequire(import.meta.url);
const { AssignerProtocol } = require('kafkajs') as {
  AssignerProtocol: {
    MemberMetadata: {
      encode(m: { version: number; topics: string[]; userData?: Buffer }): Buffer;
      decode(b: Buffer): { version: number; topics: string[]; userData: Buffer };
    };
    MemberAssignment: {
      encode(m: { version: number; assignment: Record<string, number[]>; userData?: Buffer }): Buffer;
      decode(b: Buffer): { version: number; assignment: Record<string, number[]>; userData: Buffer };
    };
  };
};

function member(memberId: string, topics: string[], owned: TopicPartition[] = [], generationId = -1): GroupMember {
  return {
    memberId,
    groupInstanceId: null,
    subscription: { topics, userData: null, ownedPartitions: owned, generationId, rackId: null },
  };
}

function names(assignment: Map<string, TopicPartition[]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [m, tps] of [...assignment].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out[m] = tps.map((tp) => `${tp.topic}-${tp.partition}`);
  }
  return out;
}

describe('range assignor', () => {
  test('Java’s example: consecutive ranges per topic, the first members one more', () => {
    const members = [member('C1', ['t0', 't1']), member('C0', ['t0', 't1'])];
    const result = rangeAssignor.assign(
      members,
      new Map([
        ['t0', 3],
        ['t1', 3],
      ]),
    );
    assert.deepEqual(names(result), { C0: ['t0-0', 't0-1', 't1-0', 't1-1'], C1: ['t0-2', 't1-2'] });
  });

  test('only subscribers of a topic get its partitions, and static members sort first', () => {
    const members = [
      member('a', ['t0']),
      { ...member('z', ['t0', 't1']), groupInstanceId: 'instance-1' },
      member('b', ['t1']),
    ];
    const result = rangeAssignor.assign(
      members,
      new Map([
        ['t0', 4],
        ['t1', 1],
      ]),
    );
    assert.deepEqual(names(result), { a: ['t0-2', 't0-3'], b: [], z: ['t0-0', 't0-1', 't1-0'] });
  });
});

describe('round-robin assignor', () => {
  test('Java’s example: all partitions in topic order dealt in turn', () => {
    const members = [member('C0', ['t0', 't1']), member('C1', ['t0', 't1'])];
    const result = roundRobinAssignor.assign(
      members,
      new Map([
        ['t0', 3],
        ['t1', 3],
      ]),
    );
    assert.deepEqual(names(result), { C0: ['t0-0', 't0-2', 't1-1'], C1: ['t0-1', 't1-0', 't1-2'] });
  });

  test('members skip topics they do not subscribe to', () => {
    const members = [member('C0', ['t0']), member('C1', ['t0', 't1']), member('C2', ['t0', 't1', 't2'])];
    const result = roundRobinAssignor.assign(
      members,
      new Map([
        ['t0', 1],
        ['t1', 2],
        ['t2', 3],
      ]),
    );
    assert.deepEqual(names(result), { C0: ['t0-0'], C1: ['t1-0'], C2: ['t1-1', 't2-0', 't2-1', 't2-2'] });
  });
});

describe('cooperative-sticky assignor', () => {
  const topics = new Map([['t', 6]]);

  test('a first assignment is balanced', () => {
    const result = cooperativeStickyAssignor.assign(
      [member('a', ['t']), member('b', ['t']), member('c', ['t'])],
      topics,
    );
    assert.deepEqual(
      [...result.values()].map((l) => l.length),
      [2, 2, 2],
    );
    assert.equal(new Set([...result.values()].flat().map((tp) => tp.partition)).size, 6);
  });

  test('a joining member gets partitions only in the second round: owners keep theirs until they revoke', () => {
    const owned = (ps: number[]) => ps.map((partition) => ({ topic: 't', partition }));
    const first = cooperativeStickyAssignor.assign(
      [member('a', ['t'], owned([0, 1, 2]), 1), member('b', ['t'], owned([3, 4, 5]), 1), member('c', ['t'])],
      topics,
    );
    // Round one: a and b each give one up; c gets nothing yet.
    assert.equal(first.get('c')!.length, 0);
    assert.equal(first.get('a')!.length, 2);
    assert.equal(first.get('b')!.length, 2);
    const kept = (m: string) => first.get(m)!;
    // Round two: everyone reports what they own after revoking.
    const second = cooperativeStickyAssignor.assign(
      [member('a', ['t'], kept('a'), 2), member('b', ['t'], kept('b'), 2), member('c', ['t'], [], 2)],
      topics,
    );
    assert.deepEqual(second.get('a'), kept('a'), 'a keeps its partitions');
    assert.deepEqual(second.get('b'), kept('b'), 'b keeps its partitions');
    assert.equal(second.get('c')!.length, 2);
    assert.equal(new Set([...second.values()].flat().map((tp) => tp.partition)).size, 6);
  });

  test('a partition claimed by two members goes to the claim of the newer generation', () => {
    const result = cooperativeStickyAssignor.assign(
      [member('a', ['t'], [{ topic: 't', partition: 0 }], 5), member('b', ['t'], [{ topic: 't', partition: 0 }], 4)],
      new Map([['t', 2]]),
    );
    assert.deepEqual(names(result), { a: ['t-0'], b: ['t-1'] });
  });

  test('rebalance protocol: cooperative only when every assignor supports it', () => {
    assert.equal(rebalanceProtocol([rangeAssignor, cooperativeStickyAssignor]), 'eager');
    assert.equal(rebalanceProtocol([cooperativeStickyAssignor]), 'cooperative');
  });
});

describe('consumer protocol data', () => {
  test('subscription and assignment round-trip at v3 with owned partitions and generation', () => {
    const subscription = {
      topics: ['a', 'b'],
      userData: Buffer.from([1, 2]),
      ownedPartitions: [
        { topic: 'a', partition: 0 },
        { topic: 'a', partition: 2 },
      ],
      generationId: 7,
      rackId: 'r1',
    };
    const decoded = decodeSubscription(encodeSubscription(subscription));
    assert.deepEqual({ ...decoded, version: undefined }, { ...subscription, version: undefined });
    const assignment = { partitions: [{ topic: 'a', partition: 1 }], userData: null };
    assert.deepEqual(decodeAssignment(encodeAssignment(assignment)).partitions, assignment.partitions);
    assert.deepEqual(decodeAssignment(Buffer.alloc(0)).partitions, []);
  });

  test('reads what kafkajs writes (v0/v1) and kafkajs reads what we write', () => {
    const theirs = AssignerProtocol.MemberMetadata.encode({
      version: 1,
      topics: ['x', 'y'],
      userData: Buffer.from('u'),
    });
    const s = decodeSubscription(theirs);
    assert.deepEqual(s.topics, ['x', 'y']);
    assert.deepEqual(s.userData, Buffer.from('u'));
    const assignment = AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { x: [0, 2], y: [1] } });
    assert.deepEqual(decodeAssignment(assignment).partitions, [
      { topic: 'x', partition: 0 },
      { topic: 'x', partition: 2 },
      { topic: 'y', partition: 1 },
    ]);
    const ours = encodeAssignment({ partitions: [{ topic: 'x', partition: 3 }], userData: null });
    assert.deepEqual(AssignerProtocol.MemberAssignment.decode(ours).assignment, { x: [3] });
    const ourSub = encodeSubscription({
      topics: ['q'],
      userData: null,
      ownedPartitions: [],
      generationId: -1,
      rackId: null,
    });
    assert.deepEqual(AssignerProtocol.MemberMetadata.decode(ourSub).topics, ['q']);
  });
});
