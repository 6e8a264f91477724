import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecodeError, EncodeError } from '../../src/protocol/errors.ts';
import {
  ControlRecordType,
  createControlBatch,
  decodeControlRecord,
  decodeRecordBatch,
  encodeControlRecord,
  encodeRecordBatch,
  readBatchHeader,
} from '../../src/protocol/records/index.ts';
import { hex } from './vector.ts';

test('a COMMIT marker is key 0000 0001 and value 0000 + coordinatorEpoch', () => {
  const record = encodeControlRecord({ type: ControlRecordType.COMMIT, coordinatorEpoch: 7 });
  assert.deepEqual(record.key, hex('0000 0001'));
  assert.deepEqual(record.value, hex('0000 00000007'));
  assert.deepEqual(record.headers, []);
  assert.deepEqual(decodeControlRecord(record), { version: 0, type: ControlRecordType.COMMIT, coordinatorEpoch: 7 });
});

test('an ABORT marker round trips with a negative coordinatorEpoch', () => {
  const record = encodeControlRecord({ type: ControlRecordType.ABORT, coordinatorEpoch: -1 });
  assert.deepEqual(record.key, hex('0000 0000'));
  assert.deepEqual(decodeControlRecord(record), { version: 0, type: ControlRecordType.ABORT, coordinatorEpoch: -1 });
});

test('the control batch a coordinator appends: transactional + control, one record, no sequence', async () => {
  const batch = createControlBatch({
    type: ControlRecordType.ABORT,
    coordinatorEpoch: 3,
    producerId: 4000n,
    producerEpoch: 5,
    timestamp: 1700000000000n,
    baseOffset: 42n,
  });
  const encoded = await encodeRecordBatch(batch);
  const header = readBatchHeader(encoded);
  assert.equal(header.isControlBatch, true);
  assert.equal(header.isTransactional, true);
  assert.equal(header.attributes, 0x30);
  assert.equal(header.producerId, 4000n);
  assert.equal(header.producerEpoch, 5);
  assert.equal(header.baseSequence, -1);
  assert.equal(header.recordCount, 1);
  assert.equal(header.lastOffset, 42n);
  const decoded = await decodeRecordBatch(encoded);
  assert.deepEqual(decodeControlRecord(decoded.records[0]!), {
    version: 0,
    type: ControlRecordType.ABORT,
    coordinatorEpoch: 3,
  });
});

test('newer key and marker versions are read by their known prefix, as Kafka does', () => {
  assert.deepEqual(decodeControlRecord({ key: hex('0001 0001 ff'), value: hex('0002 00000009 abcd') }), {
    version: 1,
    type: ControlRecordType.COMMIT,
    coordinatorEpoch: 9,
  });
});

test('KRaft and unknown control types decode their type without interpreting the value', () => {
  assert.deepEqual(decodeControlRecord({ key: hex('0000 0002'), value: hex('00') }), {
    version: 0,
    type: ControlRecordType.LEADER_CHANGE,
    coordinatorEpoch: null,
  });
  assert.deepEqual(decodeControlRecord({ key: hex('0000 0063'), value: null }), {
    version: 0,
    type: 99,
    coordinatorEpoch: null,
  });
});

test('short or null keys and values, and negative versions, are DecodeErrors', () => {
  const bad = [
    { key: null, value: hex('0000 00000001') },
    { key: hex('0000 00'), value: hex('0000 00000001') },
    { key: hex('ffff 0001'), value: hex('0000 00000001') },
    { key: hex('0000 0001'), value: null },
    { key: hex('0000 0001'), value: hex('0000 000000') },
    { key: hex('0000 0000'), value: hex('ffff 00000001') },
  ];
  for (const record of bad) assert.throws(() => decodeControlRecord(record), DecodeError);
});

test('only ABORT and COMMIT can be encoded, with an int32 coordinatorEpoch', () => {
  assert.throws(() => encodeControlRecord({ type: 2 as 0, coordinatorEpoch: 0 }), EncodeError);
  assert.throws(() => encodeControlRecord({ type: 1, coordinatorEpoch: 2 ** 31 }), EncodeError);
});
