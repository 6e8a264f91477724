import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecodeError } from '../../src/protocol/errors.ts';
import {
  BatchHeaderOffset,
  batchAttributes,
  batchCrcValid,
  batchSizeAt,
  CompressionCodec,
  parseBatchAttributes,
  RECORD_BATCH_OVERHEAD,
  readBatchHeader,
  setBaseOffset,
  setMaxTimestamp,
  setPartitionLeaderEpoch,
  TimestampType,
  updateBatchCrc,
} from '../../src/protocol/records/batch-header.ts';
import { readmeBatch } from './vector.ts';

test('the README batch header reads back as the fields the README lists', () => {
  const h = readBatchHeader(readmeBatch());
  assert.deepEqual(h, {
    baseOffset: 0n,
    batchLength: 79,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0xb422882e,
    attributes: 0,
    lastOffsetDelta: 1,
    baseTimestamp: 1700000000000n,
    maxTimestamp: 1700000000005n,
    producerId: 7n,
    producerEpoch: 1,
    baseSequence: 0,
    recordCount: 2,
    lastOffset: 1n,
    sizeInBytes: 91,
    compression: CompressionCodec.None,
    timestampType: TimestampType.CreateTime,
    isTransactional: false,
    isControlBatch: false,
    hasDeleteHorizon: false,
  });
  assert.equal(batchCrcValid(readmeBatch()), true);
});

test('field offsets match the README table', () => {
  assert.deepEqual(Object.values(BatchHeaderOffset), [0, 8, 12, 16, 17, 21, 23, 27, 35, 43, 51, 53, 57, 61]);
  assert.equal(RECORD_BATCH_OVERHEAD, 61);
});

test('only the 61 header bytes are needed to read a header', () => {
  const h = readBatchHeader(readmeBatch().subarray(0, 61));
  assert.equal(h.recordCount, 2);
  assert.equal(h.sizeInBytes, 91);
});

test('a header at a non-zero offset in a bigger buffer, and in a plain Uint8Array', () => {
  const buf = Buffer.concat([Buffer.alloc(5, 0xaa), readmeBatch(), Buffer.alloc(3)]);
  assert.equal(readBatchHeader(buf, 5).producerId, 7n);
  assert.equal(batchCrcValid(buf, 5), true);
  assert.equal(batchSizeAt(buf, 5), 91);
  const u8 = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  assert.equal(readBatchHeader(u8, 5).maxTimestamp, 1700000000005n);
});

test('attribute bits round trip through parse and build', () => {
  for (let attributes = 0; attributes < 128; attributes++) {
    assert.equal(batchAttributes(parseBatchAttributes(attributes)), attributes);
  }
  assert.deepEqual(parseBatchAttributes(0x3c), {
    compression: 4,
    timestampType: TimestampType.LogAppendTime,
    isTransactional: true,
    isControlBatch: true,
    hasDeleteHorizon: false,
  });
  assert.throws(() => batchAttributes({ compression: 8 }), RangeError);
});

test('bad magic, short headers, short lengths and negative counts are DecodeErrors', () => {
  const magic1 = readmeBatch();
  magic1[16] = 1;
  assert.throws(
    () => readBatchHeader(magic1),
    (e: unknown) => e instanceof DecodeError && /magic 1/.test(e.message),
  );
  assert.throws(() => readBatchHeader(readmeBatch().subarray(0, 60)), DecodeError);
  const shortLength = readmeBatch();
  shortLength.writeInt32BE(48, 8);
  assert.throws(() => readBatchHeader(shortLength), DecodeError);
  const negativeCount = readmeBatch();
  negativeCount.writeInt32BE(-1, 57);
  assert.throws(() => readBatchHeader(negativeCount), DecodeError);
});

test('batchSizeAt needs only the 12 framing bytes and reports a torn frame as null', () => {
  assert.equal(batchSizeAt(readmeBatch().subarray(0, 12)), 91);
  assert.equal(batchSizeAt(readmeBatch().subarray(0, 11)), null);
  assert.equal(batchSizeAt(Buffer.alloc(0)), null);
  const zero = readmeBatch();
  zero.writeInt32BE(0, 8);
  assert.throws(() => batchSizeAt(zero), DecodeError);
});

test('CRC validation: a flipped covered bit fails, a torn batch throws, uncovered fields do not matter', () => {
  const flipped = readmeBatch();
  flipped[70]! ^= 0x01;
  assert.equal(batchCrcValid(flipped), false);
  assert.throws(() => batchCrcValid(readmeBatch().subarray(0, 90)), DecodeError);
  const uncovered = readmeBatch();
  uncovered.writeBigInt64BE(123n, 0);
  uncovered.writeInt32BE(9, 12);
  assert.equal(batchCrcValid(uncovered), true);
});

test('assigning baseOffset and partitionLeaderEpoch in place keeps the CRC valid', () => {
  const batch = readmeBatch();
  setBaseOffset(batch, 0, 1000n);
  setPartitionLeaderEpoch(batch, 0, 17);
  const h = readBatchHeader(batch);
  assert.equal(h.baseOffset, 1000n);
  assert.equal(h.lastOffset, 1001n);
  assert.equal(h.partitionLeaderEpoch, 17);
  assert.equal(h.crc, 0xb422882e);
  assert.equal(batchCrcValid(batch), true);
});

test('the LogAppendTime rewrite sets bit 3 and maxTimestamp and re-signs the batch', () => {
  const batch = readmeBatch();
  setMaxTimestamp(batch, 0, TimestampType.LogAppendTime, 1800000000000n);
  const h = readBatchHeader(batch);
  assert.equal(h.timestampType, TimestampType.LogAppendTime);
  assert.equal(h.attributes, 0x08);
  assert.equal(h.maxTimestamp, 1800000000000n);
  assert.notEqual(h.crc, 0xb422882e);
  assert.equal(batchCrcValid(batch), true);
  // Every other byte is untouched.
  const before = readmeBatch();
  for (let i = 0; i < before.length; i++) {
    if (i >= 17 && i < 23) continue;
    if (i >= 35 && i < 43) continue;
    assert.equal(batch[i], before[i], `byte ${i}`);
  }
  // Back to CreateTime with the original maxTimestamp restores the original bytes.
  setMaxTimestamp(batch, 0, TimestampType.CreateTime, 1700000000005n);
  assert.deepEqual(batch, before);
});

test('setMaxTimestamp leaves a batch that already has those values alone, even if its CRC is stale', () => {
  const batch = readmeBatch();
  batch[70]! ^= 1;
  setMaxTimestamp(batch, 0, TimestampType.CreateTime, 1700000000005n);
  assert.equal(batchCrcValid(batch), false);
  updateBatchCrc(batch);
  assert.equal(batchCrcValid(batch), true);
});

test('in-place helpers refuse what is not a whole magic-2 batch', () => {
  assert.throws(() => setBaseOffset(Buffer.alloc(20), 0, 1n), DecodeError);
  assert.throws(() => setMaxTimestamp(readmeBatch().subarray(0, 80), 0, TimestampType.LogAppendTime, 1n), DecodeError);
});
