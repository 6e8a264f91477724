import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERRORS, ErrorCode } from '../../src/protocol/generated/error-codes.ts';

test('error codes carry Kafka names, numbers and retriable flags', () => {
  assert.equal(ErrorCode.NONE, 0);
  assert.equal(ErrorCode.UNKNOWN_SERVER_ERROR, -1);
  assert.equal(ErrorCode.UNSUPPORTED_VERSION, 35);
  assert.equal(ErrorCode.KAFKA_STORAGE_ERROR, 56);
  assert.equal(ERRORS.size, 129);
  assert.deepEqual(ERRORS.get(6), { code: 6, name: 'NOT_LEADER_OR_FOLLOWER', retriable: true });
  assert.equal(ERRORS.get(ErrorCode.KAFKA_STORAGE_ERROR)?.retriable, true);
  assert.equal(ERRORS.get(ErrorCode.TOPIC_AUTHORIZATION_FAILED)?.retriable, false);
  assert.equal(ERRORS.get(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)?.retriable, false);
  for (const [code, info] of ERRORS) assert.equal(ErrorCode[info.name], code);
});
