// Batches and message sets written by kafkajs 2.2.4's own encoders, and ours read by its
// decoders: an implementation we did not write checks both directions.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { Reader } from '../../src/protocol/reader.ts';
import { codecFor } from '../../src/protocol/records/compression/index.ts';
import {
  batchCrcValid,
  CompressionCodec,
  createRecordBatch,
  decodeMessageSet,
  decodeRecordBatch,
  decodeRecordBatches,
  encodeCompressedMessageSet,
  encodeRecordBatch,
  readBatchHeader,
  recordOffset,
  recordTimestamp,
  splitRecordBatches,
} from '../../src/protocol/records/index.ts';

const require = createRequire(import.meta.url);
type Encoded = { buffer: Buffer };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: (args: object) => Promise<Encoded>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (args: object) => Encoded;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): unknown };
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
const kafkajsDecodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (d: unknown) => Promise<{
  firstOffset: string;
  producerId: string;
  inTransaction: boolean;
  records: Array<{ offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: object }>;
}>;
const ProduceV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (args: object) => {
  encode(): Promise<Encoded>;
};
const MessageSet = require('kafkajs/src/protocol/messageSet/index.js') as (args: object) => Encoded;
const kafkajsDecodeMessageSet = require('kafkajs/src/protocol/messageSet/decoder.js') as (
  d: unknown,
  size: number,
) => Promise<Array<{ offset: string; key: Buffer | null; value: Buffer | null; timestamp?: string }>>;
const kafkajsCodecs = require('kafkajs/src/protocol/message/compression/index.js') as {
  Codecs: Record<number, () => { compress(e: Encoded): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }>;
};

// kafkajs ships only gzip and takes the other codecs as plug-ins; plug ours in so its
// decoder can read our snappy, lz4 and zstd batches.
for (const id of [CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd]) {
  const codec = codecFor(id);
  kafkajsCodecs.Codecs[id] = () => ({
    compress: (encoder) => codec.compress(encoder.buffer),
    decompress: (buffer) => codec.decompress(buffer, { maxSize: 1 << 28 }),
  });
}

async function kafkajsBatch(compression: number): Promise<Buffer> {
  const records = [
    Record({
      offsetDelta: 0,
      timestampDelta: 0,
      key: Buffer.from('k1'),
      value: Buffer.from('hello'),
      headers: { h: 'x' },
    }),
    Record({ offsetDelta: 1, timestampDelta: 5, key: null, value: Buffer.from('world') }),
    Record({
      offsetDelta: 2,
      timestampDelta: 9,
      key: Buffer.from('k3'),
      value: Buffer.alloc(0),
      headers: { a: ['1', '2'] },
    }),
  ];
  const batch = await RecordBatch({
    compression,
    firstOffset: Long.fromValue(0),
    firstTimestamp: 1700000000000,
    maxTimestamp: 1700000000009,
    partitionLeaderEpoch: 0,
    lastOffsetDelta: 2,
    transactional: true,
    producerId: Long.fromValue(7),
    producerEpoch: 1,
    firstSequence: 12,
    records,
  });
  return batch.buffer;
}

for (const [name, codec] of [
  ['uncompressed', CompressionCodec.None],
  ['gzip', CompressionCodec.Gzip],
] as const) {
  test(`a ${name} batch from kafkajs's encoder: fields, CRC and a byte-identical re-encode`, async () => {
    const bytes = await kafkajsBatch(codec);
    assert.equal(batchCrcValid(bytes), true);
    const header = readBatchHeader(bytes);
    assert.equal(header.compression, codec);
    assert.equal(header.isTransactional, true);
    const batch = await decodeRecordBatch(bytes);
    assert.equal(batch.producerId, 7n);
    assert.equal(batch.producerEpoch, 1);
    assert.equal(batch.baseSequence, 12);
    assert.equal(batch.lastOffsetDelta, 2);
    assert.deepEqual(
      batch.records.map((r) => [
        recordOffset(batch, r),
        recordTimestamp(batch, r),
        r.key?.toString() ?? null,
        r.value?.toString(),
        r.headers.map((h) => `${h.key}=${h.value}`),
      ]),
      [
        [0n, 1700000000000n, 'k1', 'hello', ['h=x']],
        [1n, 1700000000005n, null, 'world', []],
        [2n, 1700000000009n, 'k3', '', ['a=1', 'a=2']],
      ],
    );
    // Node's zlib is what kafkajs compresses with, so even the gzip stream comes out the same.
    assert.deepEqual(await encodeRecordBatch(batch), bytes);
  });
}

test('records bytes taken from a kafkajs Produce v3 request decode batch by batch', async () => {
  for (const compression of [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Lz4]) {
    const request = await ProduceV3({
      acks: -1,
      timeout: 30000,
      compression,
      topicData: [
        {
          topic: 'orders',
          partitions: [
            {
              partition: 0,
              firstSequence: 0,
              messages: [
                { key: 'a', value: 'first', timestamp: 1700000000000, headers: { trace: 'abc' } },
                { key: null, value: 'second', timestamp: 1700000000002 },
              ],
            },
          ],
        },
      ],
    }).encode();
    // Produce v3: transactionalId, acks, timeout, [topic, [partition, records]].
    const r = new Reader(request.buffer);
    assert.equal(r.nullableString(), null);
    assert.equal(r.int16(), -1);
    assert.equal(r.int32(), 30000);
    assert.equal(r.arrayLength(), 1);
    assert.equal(r.string(), 'orders');
    assert.equal(r.arrayLength(), 1);
    assert.equal(r.int32(), 0);
    const records = r.nullableBytes()!;
    assert.equal(r.remaining, 0);

    const { batches, partialTailBytes } = splitRecordBatches(records);
    assert.equal(batches.length, 1);
    assert.equal(partialTailBytes, 0);
    assert.equal(batchCrcValid(batches[0]!), true);
    const [batch] = await decodeRecordBatches(records, { allowPartialTail: false });
    assert.equal(readBatchHeader(records).compression, compression);
    assert.deepEqual(
      batch!.records.map((rec) => [rec.key?.toString() ?? null, rec.value!.toString(), recordTimestamp(batch!, rec)]),
      [
        ['a', 'first', 1700000000000n],
        [null, 'second', 1700000000002n],
      ],
    );
    assert.deepEqual(batch!.records[0]!.headers, [{ key: 'trace', value: Buffer.from('abc') }]);
    if (compression !== CompressionCodec.Lz4) assert.deepEqual(await encodeRecordBatch(batch!), records);
  }
});

for (const [name, codec] of [
  ['uncompressed', CompressionCodec.None],
  ['gzip', CompressionCodec.Gzip],
  ['snappy', CompressionCodec.Snappy],
  ['lz4', CompressionCodec.Lz4],
  ['zstd', CompressionCodec.Zstd],
] as const) {
  test(`kafkajs's decoder reads our ${name} batch`, async () => {
    const ours = await encodeRecordBatch(
      createRecordBatch(
        [
          { key: 'k', value: 'v1', headers: [{ key: 'h', value: 'x' }], timestamp: 1700000000000n },
          { key: null, value: 'v2', timestamp: 1700000000007n },
        ],
        {
          compression: codec,
          baseOffset: 40n,
          producerId: 9n,
          producerEpoch: 0,
          baseSequence: 0,
          isTransactional: true,
        },
      ),
    );
    const theirs = await kafkajsDecodeBatch(new Decoder(ours));
    assert.equal(theirs.firstOffset, '40');
    assert.equal(theirs.producerId, '9');
    assert.equal(theirs.inTransaction, true);
    assert.deepEqual(
      theirs.records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value!.toString(), r.headers]),
      [
        ['40', '1700000000000', 'k', 'v1', { h: Buffer.from('x') }],
        ['41', '1700000000007', null, 'v2', {}],
      ],
    );
  });
}

test('a kafkajs magic 1 message set, plain and gzip-wrapped as its Produce v2 sends it', async () => {
  const entries = [
    { key: 'a', value: 'one', timestamp: 1600000000000 },
    { key: null, value: 'two', timestamp: 1600000000001 },
  ];
  const plain = MessageSet({ messageVersion: 1, compression: 0, entries }).buffer;
  assert.deepEqual(
    decodeMessageSet(plain).map((m) => [m.magic, m.timestamp, m.key?.toString() ?? null, m.value!.toString()]),
    [
      [1, 1600000000000n, 'a', 'one'],
      [1, 1600000000001n, null, 'two'],
    ],
  );

  const inner = MessageSet({ messageVersion: 1, compression: CompressionCodec.Gzip, entries });
  const gzipped = await kafkajsCodecs.Codecs[CompressionCodec.Gzip]!().compress(inner);
  const wrapper = Buffer.from(
    MessageSet({
      messageVersion: 1,
      entries: [{ compression: CompressionCodec.Gzip, timestamp: 1600000000000, value: gzipped }],
    }).buffer,
  );
  // A producer leaves offsets to the broker; stamp the wrapper as a broker would (last offset 11).
  wrapper.writeBigInt64BE(11n, 0);
  assert.deepEqual(
    decodeMessageSet(wrapper).map((m) => [m.offset, m.value!.toString()]),
    [
      [10n, 'one'],
      [11n, 'two'],
    ],
  );
});

test("kafkajs's message set decoder reads our gzip wrapper", async () => {
  const wrapper = encodeCompressedMessageSet({
    magic: 1,
    codec: CompressionCodec.Gzip,
    baseOffset: 20n,
    timestamp: 1600000000000n,
    messages: [
      { key: Buffer.from('k'), value: Buffer.from('x'), timestamp: 1600000000000n },
      { key: null, value: Buffer.from('y'), timestamp: 1600000000001n },
    ],
  });
  const theirs = await kafkajsDecodeMessageSet(new Decoder(wrapper), wrapper.length);
  assert.deepEqual(
    theirs.map((m) => [m.offset, m.key?.toString() ?? null, m.value!.toString()]),
    [
      ['20', 'k', 'x'],
      ['21', null, 'y'],
    ],
  );
});
