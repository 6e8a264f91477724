import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Reader } from '../../src/protocol/reader.ts';
import {
  createRecordBatch,
  decodeRecordBatchSync,
  encodeRecordBatchSync,
  sizeOfVarint,
  sizeOfVarlong,
} from '../../src/protocol/records/index.ts';
import { Writer } from '../../src/protocol/writer.ts';
import { hex } from './vector.ts';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

test('unsigned varints: the README examples', () => {
  for (const [value, bytes] of [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
  ] as const) {
    assert.deepEqual(new Writer().uvarint(value).toBuffer(), hex(bytes), `${value}`);
    assert.equal(new Reader(hex(bytes)).uvarint(), value);
  }
});

test('zig-zag varints: README examples and the int32 edges', () => {
  const vectors: Array<[number, string]> = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-2, '03'],
    [5, '0a'],
    [17, '22'],
    [-64, '7f'],
    [64, '8001'],
    [2147483647, 'feffffff0f'],
    [-2147483648, 'ffffffff0f'],
  ];
  for (const [value, bytes] of vectors) {
    assert.deepEqual(new Writer().varint(value).toBuffer(), hex(bytes), `${value}`);
    assert.equal(new Reader(hex(bytes)).varint(), value);
    assert.equal(sizeOfVarint(value), hex(bytes).length, `size of ${value}`);
  }
});

test('zig-zag varlongs: the int64 edges and the 35-bit boundary', () => {
  const vectors: Array<[bigint, string]> = [
    [0n, '00'],
    [-1n, '01'],
    [17n, '22'],
    [2n ** 34n - 1n, 'feffffff7f'],
    [2n ** 34n, '8080808080 01'],
    [1700000000000n, '80a0abfef962'],
    [INT64_MAX, 'feffffffffffffffff01'],
    [INT64_MIN, 'ffffffffffffffffff01'],
  ];
  for (const [value, bytes] of vectors) {
    assert.deepEqual(new Writer().varlong(value).toBuffer(), hex(bytes), `${value}`);
    assert.equal(new Reader(hex(bytes)).varlong(), value);
    assert.equal(sizeOfVarlong(value), hex(bytes).length, `size of ${value}`);
  }
});

test('sizeOfVarint and sizeOfVarlong agree with the writer everywhere', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -0x80000000, max: 0x7fffffff }),
      fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
      (i, l) => {
        assert.equal(sizeOfVarint(i), new Writer().varint(i).toBuffer().length);
        assert.equal(sizeOfVarlong(l), new Writer().varlong(l).toBuffer().length);
      },
    ),
  );
});

test('records carry the int32 and int64 extremes in their deltas', () => {
  const batch = createRecordBatch([{ value: 'a' }], { timestamp: 0n });
  batch.records[0] = { ...batch.records[0]!, offsetDelta: -2147483648, timestampDelta: INT64_MIN };
  batch.records.push({ ...batch.records[0]!, offsetDelta: 2147483647, timestampDelta: INT64_MAX });
  const encoded = encodeRecordBatchSync(batch);
  assert.deepEqual(decodeRecordBatchSync(encoded).records, batch.records);
  // length, attributes, then the 10-byte varlong and the 5-byte varint of record one.
  assert.deepEqual(encoded.subarray(61, 61 + 17), hex('28 00 ffffffffffffffffff01 ffffffff0f'));
});
