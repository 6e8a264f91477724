import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LOG_CONFIG, parseLogConfig, syncsEveryAppend } from '../../src/storage/config.ts';
import { InvalidConfigError } from '../../src/storage/errors.ts';
import {
  deletedPartitionDirName,
  isDeletedPartitionDirName,
  isValidTopicName,
  parsePartitionDirName,
  parseSegmentFileName,
  partitionDirName,
  segmentFileName,
} from '../../src/storage/names.ts';
import { buildBatch } from './helpers.ts';

describe('log config', () => {
  it("has Kafka's defaults, except that every append is fsynced", () => {
    assert.equal(DEFAULT_LOG_CONFIG['segment.bytes'], 1073741824);
    assert.equal(DEFAULT_LOG_CONFIG['retention.ms'], 604800000);
    assert.equal(DEFAULT_LOG_CONFIG['retention.bytes'], -1);
    assert.equal(DEFAULT_LOG_CONFIG['index.interval.bytes'], 4096);
    assert.deepEqual(DEFAULT_LOG_CONFIG['cleanup.policy'], ['delete']);
    assert.equal(DEFAULT_LOG_CONFIG['flush.messages'], 1);
    assert.ok(syncsEveryAppend(DEFAULT_LOG_CONFIG));
    assert.ok(!syncsEveryAppend(parseLogConfig({ 'flush.messages': '9223372036854775807' })));
  });

  it('parses overrides and names the key and value of a bad one', () => {
    const config = parseLogConfig({
      'cleanup.policy': 'compact,delete',
      'message.timestamp.type': 'LogAppendTime',
      preallocate: 'TRUE',
      'min.cleanable.dirty.ratio': '0.1',
    });
    assert.deepEqual(config['cleanup.policy'], ['compact', 'delete']);
    assert.equal(config['message.timestamp.type'], 'LogAppendTime');
    assert.equal(config.preallocate, true);
    assert.throws(() => parseLogConfig({ 'segment.bytes': '3000000000' }), InvalidConfigError);
    assert.throws(() => parseLogConfig({ 'cleanup.policy': 'forever' }), InvalidConfigError);
    assert.throws(
      () => parseLogConfig({ 'retention.ms': '-5' }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidConfigError);
        assert.equal(err.message, 'Invalid value "-5" for config "retention.ms": must be at least -1');
        return true;
      },
    );
  });
});

describe('file names', () => {
  it('names segments by their 20-digit base offset and parses them back', () => {
    assert.equal(segmentFileName(42n, '.log'), '00000000000000000042.log');
    assert.equal(segmentFileName(9223372036854775807n, '.timeindex'), '09223372036854775807.timeindex');
    assert.deepEqual(parseSegmentFileName('00000000000000000042.index'), { baseOffset: 42n, suffix: '.index' });
    assert.equal(parseSegmentFileName('00000000000000000042.log.deleted'), null);
    assert.equal(parseSegmentFileName('42.log'), null);
    assert.equal(parseSegmentFileName('log-start-offset'), null);
  });

  it('splits partition directories at the last dash and never mistakes a deleted one for a live one', () => {
    assert.equal(partitionDirName('my-topic', 12), 'my-topic-12');
    assert.deepEqual(parsePartitionDirName('my-topic-12'), { topic: 'my-topic', partition: 12 });
    assert.equal(parsePartitionDirName('topics.json'), null);
    assert.equal(parsePartitionDirName('.clean-shutdown'), null);
    assert.equal(parsePartitionDirName('orders-01'), null);
    const deleted = deletedPartitionDirName('orders', 0, 'abcd1234');
    assert.equal(deleted, 'orders-0.abcd1234.deleted');
    assert.equal(parsePartitionDirName(deleted), null);
    assert.ok(isDeletedPartitionDirName(deleted));
    assert.ok(!isDeletedPartitionDirName('x.deleted-0'));
    assert.ok(isValidTopicName('a.b_c-d'));
    assert.ok(!isValidTopicName('..'));
    assert.ok(!isValidTopicName('a/b'));
    assert.ok(!isValidTopicName('x'.repeat(250)));
  });
});

describe('test batch builder', () => {
  it('reproduces the record batch test vector of the protocol notes byte for byte', () => {
    const batch = buildBatch(
      [
        { key: 'k1', value: 'hello', headers: [['h', 'x']] },
        { key: null, value: 'world', timestampDelta: 5 },
      ],
      { baseTimestamp: 1700000000000, producerId: 7n, producerEpoch: 1, baseSequence: 0, partitionLeaderEpoch: 0 },
    );
    const expected =
      '0000000000000000 0000004f 00000000 02 b422882e 0000 00000001 ' +
      '0000018bcfe56800 0000018bcfe56805 0000000000000007 0001 00000000 00000002 ' +
      '22 00 00 00 04 6b31 0a 68656c6c6f 02 02 68 02 78 ' +
      '16 00 0a 02 01 0a 776f726c64 00';
    assert.equal(batch.toString('hex'), expected.replaceAll(' ', ''));
  });
});
