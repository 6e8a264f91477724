import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { murmur2, toPositive } from '../../src/client/murmur2.ts';
import { DefaultPartitioner, partitionForKey } from '../../src/client/partitioner.ts';

const require = createRequire(import.meta.url);
const kafkajs = require('kafkajs') as {
  Partitioners: { DefaultPartitioner: () => (args: unknown) => number };
};
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

/** A small deterministic generator, so a failure can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('murmur2', () => {
  test('matches the vectors of Kafka’s UtilsTest', () => {
    const vectors: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, expected] of vectors) assert.equal(murmur2(Buffer.from(key)), expected, key);
  });

  test('equals kafkajs’s murmur2 for every length 0..64 and random bytes', () => {
    const random = prng(1);
    for (let length = 0; length <= 64; length++) {
      for (let i = 0; i < 20; i++) {
        const key = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
        assert.equal(murmur2(key), kafkajsMurmur2(key), key.toString('hex'));
      }
    }
  });

  test('toPositive clears the sign bit as Java does, unlike Math.abs', () => {
    assert.equal(toPositive(-2147483648), 0);
    assert.equal(toPositive(-1), 2147483647);
    assert.equal(toPositive(5), 5);
  });
});

describe('default partitioner', () => {
  test('10,000 random keys land on the same partitions as kafkajs’s Java-compatible partitioner', () => {
    const random = prng(42);
    const theirs = kafkajs.Partitioners.DefaultPartitioner();
    const ours = new DefaultPartitioner();
    for (let i = 0; i < 10_000; i++) {
      const length = 1 + Math.floor(random() * 40);
      const key = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
      const partitionCount = 1 + Math.floor(random() * 128);
      const partitionMetadata = Array.from({ length: partitionCount }, (_, p) => ({ partitionId: p, leader: 1 }));
      const expected = theirs({ topic: 't', partitionMetadata, message: { key, value: null } });
      const got = ours.partition({
        topic: 't',
        key,
        value: null,
        partitionCount,
        availablePartitions: partitionMetadata.map((p) => p.partitionId),
      });
      assert.equal(got, expected, `key ${key.toString('hex')} over ${partitionCount} partitions`);
      assert.equal(partitionForKey(key, partitionCount), expected);
    }
  });

  test('null keys stick to one available partition until about a batch of bytes went there', () => {
    const ours = new DefaultPartitioner({ stickyBytes: 100, random: prng(7) });
    const context = { topic: 't', key: null, value: null, partitionCount: 6, availablePartitions: [0, 2, 4] };
    const first = ours.partition(context);
    assert.ok([0, 2, 4].includes(first));
    for (let i = 0; i < 4; i++) {
      assert.equal(ours.partition(context), first);
      ours.onAppend('t', first, 20);
    }
    ours.onAppend('t', first, 20);
    const next = ours.partition(context);
    assert.notEqual(next, first);
    assert.ok([0, 2, 4].includes(next));
  });

  test('a sticky partition that lost its leader is replaced', () => {
    const ours = new DefaultPartitioner({ random: () => 0 });
    const first = ours.partition({
      topic: 't',
      key: null,
      value: null,
      partitionCount: 3,
      availablePartitions: [0, 1, 2],
    });
    assert.equal(first, 0);
    const moved = ours.partition({
      topic: 't',
      key: null,
      value: null,
      partitionCount: 3,
      availablePartitions: [1, 2],
    });
    assert.equal(moved, 1);
  });

  test('keyed records ignore availability, as in Java', () => {
    const ours = new DefaultPartitioner();
    const key = Buffer.from('order-17');
    const expected = toPositive(murmur2(key)) % 10;
    assert.equal(
      ours.partition({ topic: 't', key, value: null, partitionCount: 10, availablePartitions: [] }),
      expected,
    );
  });
});
