import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DecodeError, EncodeError } from '../../src/protocol/errors.ts';
import {
  batchAttributes,
  CompressionCodec,
  createRecordBatch,
  decodeRecordBatch,
  decodeRecordBatches,
  decodeRecordBatchesSync,
  decodeRecordBatchSync,
  encodeRecordBatch,
  encodeRecordBatchSync,
  type RecordBatch,
  readBatchHeader,
  recordOffset,
  recordTimestamp,
  SyncCompressionUnavailableError,
  setBaseOffset,
  setMaxTimestamp,
  splitRecordBatches,
  TimestampType,
  updateBatchCrc,
} from '../../src/protocol/records/index.ts';
import { batchArb } from './arbitraries.ts';
import { hex, readmeBatch } from './vector.ts';

const CODECS = [
  ['none', CompressionCodec.None],
  ['gzip', CompressionCodec.Gzip],
  ['snappy', CompressionCodec.Snappy],
  ['lz4', CompressionCodec.Lz4],
  ['zstd', CompressionCodec.Zstd],
] as const;

function isDecodeError(pattern?: RegExp) {
  return (e: unknown) => e instanceof DecodeError && (pattern === undefined || pattern.test(e.message));
}

/** The README batch's header with other record bytes, a matching length, count and CRC. */
function withRecords(records: string, recordCount: number, attributes = 0): Buffer {
  const body = hex(records);
  const batch = Buffer.concat([readmeBatch().subarray(0, 61), body]);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt16BE(attributes, 21);
  batch.writeInt32BE(recordCount, 57);
  updateBatchCrc(batch);
  return batch;
}

test('the README vector decodes to exactly the fields the README lists', async () => {
  const batch = await decodeRecordBatch(readmeBatch());
  assert.deepEqual(batch, {
    baseOffset: 0n,
    partitionLeaderEpoch: 0,
    attributes: 0,
    lastOffsetDelta: 1,
    baseTimestamp: 1700000000000n,
    maxTimestamp: 1700000000005n,
    producerId: 7n,
    producerEpoch: 1,
    baseSequence: 0,
    records: [
      {
        attributes: 0,
        timestampDelta: 0n,
        offsetDelta: 0,
        key: Buffer.from('k1'),
        value: Buffer.from('hello'),
        headers: [{ key: 'h', value: Buffer.from('x') }],
      },
      { attributes: 0, timestampDelta: 5n, offsetDelta: 1, key: null, value: Buffer.from('world'), headers: [] },
    ],
  });
  assert.deepEqual(
    batch.records.map((r) => [recordOffset(batch, r), recordTimestamp(batch, r)]),
    [
      [0n, 1700000000000n],
      [1n, 1700000000005n],
    ],
  );
  assert.deepEqual(decodeRecordBatchSync(readmeBatch()), batch);
});

test('the README vector re-encodes byte for byte, async and sync', async () => {
  const batch = await decodeRecordBatch(readmeBatch());
  assert.deepEqual(await encodeRecordBatch(batch), readmeBatch());
  assert.deepEqual(encodeRecordBatchSync(batch), readmeBatch());
});

test('the README batch built from scratch with createRecordBatch is the same bytes', () => {
  const batch = createRecordBatch(
    [
      { key: 'k1', value: 'hello', headers: [{ key: 'h', value: 'x' }], timestamp: 1700000000000n },
      { key: null, value: 'world', timestamp: 1700000000005n },
    ],
    { producerId: 7n, producerEpoch: 1, baseSequence: 0, partitionLeaderEpoch: 0 },
  );
  assert.deepEqual(encodeRecordBatchSync(batch), readmeBatch());
});

test('decoded records of an uncompressed batch are views into the input, not copies', async () => {
  const input = readmeBatch();
  const batch = await decodeRecordBatch(input);
  assert.equal(batch.records[0]!.value!.buffer, input.buffer);
  input[61 + 5] = 'K'.charCodeAt(0);
  assert.equal(batch.records[0]!.key!.toString(), 'K1');
});

for (const [name, codec] of CODECS) {
  test(`${name}: random batches survive encode → decode → encode unchanged`, async () => {
    await fc.assert(
      fc.asyncProperty(batchArb(codec), async (batch) => {
        const encoded = await encodeRecordBatch(batch);
        const header = readBatchHeader(encoded);
        assert.equal(header.compression, codec);
        assert.equal(header.recordCount, batch.records.length);
        assert.equal(header.sizeInBytes, encoded.length);
        const decoded = await decodeRecordBatch(encoded);
        assert.deepEqual(decoded, batch);
        assert.deepEqual(await encodeRecordBatch(decoded), encoded);
        if (codec !== CompressionCodec.Zstd) {
          assert.deepEqual(decodeRecordBatchSync(encoded), batch);
          assert.deepEqual(encodeRecordBatchSync(decoded), encoded);
        }
      }),
      { numRuns: 60 },
    );
  });

  test(`${name}: a batch of 2000 records and 1 MiB of values round trips`, async () => {
    const value = Buffer.alloc(512, 'v');
    const batch = createRecordBatch(
      Array.from({ length: 2000 }, (_, i) => ({ key: `key-${i}`, value, timestamp: 1700000000000n + BigInt(i) })),
      { compression: codec },
    );
    const encoded = await encodeRecordBatch(batch);
    const decoded = await decodeRecordBatch(encoded);
    assert.equal(decoded.records.length, 2000);
    assert.equal(decoded.records[1999]!.key!.toString(), 'key-1999');
    assert.equal(recordTimestamp(decoded, decoded.records[1999]!), 1700000001999n);
    assert.equal(decoded.maxTimestamp, 1700000001999n);
    assert.equal(decoded.lastOffsetDelta, 1999);
  });
}

test('zstd batches need the async API', async () => {
  const batch = createRecordBatch([{ value: 'z' }], { compression: CompressionCodec.Zstd });
  assert.throws(() => encodeRecordBatchSync(batch), SyncCompressionUnavailableError);
  const encoded = await encodeRecordBatch(batch);
  assert.throws(() => decodeRecordBatchSync(encoded), SyncCompressionUnavailableError);
});

test('createRecordBatch: deltas, max timestamp, flags and Kafka defaults', () => {
  const batch = createRecordBatch(
    [
      { value: 'a', timestamp: 1000n },
      { value: 'b', timestamp: 900n },
      { value: 'c', timestamp: 1500n },
    ],
    { compression: CompressionCodec.Lz4, isTransactional: true, producerId: 3n, producerEpoch: 2, baseSequence: 10 },
  );
  assert.deepEqual(
    batch.records.map((r) => [r.offsetDelta, r.timestampDelta]),
    [
      [0, 0n],
      [1, -100n],
      [2, 500n],
    ],
  );
  assert.equal(batch.baseTimestamp, 1000n);
  assert.equal(batch.maxTimestamp, 1500n);
  assert.equal(batch.lastOffsetDelta, 2);
  assert.equal(batch.attributes, batchAttributes({ compression: 3, isTransactional: true }));
  const plain = createRecordBatch([{ value: 'x' }]);
  assert.equal(plain.producerId, -1n);
  assert.equal(plain.producerEpoch, -1);
  assert.equal(plain.baseSequence, -1);
  assert.equal(plain.partitionLeaderEpoch, -1);
  assert.equal(plain.records[0]!.key, null);
});

test('with LogAppendTime every record gets the broker timestamp from maxTimestamp', async () => {
  const encoded = encodeRecordBatchSync(
    createRecordBatch([
      { value: 'a', timestamp: 10n },
      { value: 'b', timestamp: 20n },
    ]),
  );
  setBaseOffset(encoded, 0, 500n);
  setMaxTimestamp(encoded, 0, TimestampType.LogAppendTime, 99999n);
  const batch = await decodeRecordBatch(encoded);
  assert.deepEqual(
    batch.records.map((r) => [recordOffset(batch, r), recordTimestamp(batch, r)]),
    [
      [500n, 99999n],
      [501n, 99999n],
    ],
  );
});

test('null keys, null values, null header values and empty ones are kept apart', async () => {
  const batch = createRecordBatch([
    { key: null, value: null, headers: [{ key: 'a', value: null }] },
    { key: '', value: '', headers: [{ key: '', value: '' }] },
  ]);
  const decoded = await decodeRecordBatch(await encodeRecordBatch(batch));
  const [first, second] = decoded.records;
  assert.equal(first!.key, null);
  assert.equal(first!.value, null);
  assert.equal(first!.headers[0]!.value, null);
  assert.deepEqual(second!.key, Buffer.alloc(0));
  assert.deepEqual(second!.value, Buffer.alloc(0));
  assert.deepEqual(second!.headers[0], { key: '', value: Buffer.alloc(0) });
});

test('an empty batch (as compaction leaves) round trips with its lastOffsetDelta', async () => {
  const batch: RecordBatch = { ...(await decodeRecordBatch(readmeBatch())), records: [], lastOffsetDelta: 5 };
  const encoded = await encodeRecordBatch(batch);
  assert.equal(encoded.length, 61);
  assert.deepEqual(await decodeRecordBatch(encoded), batch);
});

test('header keys that are not UTF-8 decode with replacement characters, as in Java, not an error', async () => {
  // One record: no key, value "v", one header with key bytes ff fe and value "x".
  const batch = withRecords('18 00 00 00 01 02 76 02 04 fffe 02 78', 1);
  const decoded = await decodeRecordBatch(batch);
  assert.equal(decoded.records[0]!.headers[0]!.key, '\ufffd\ufffd');
});

// ---------------------------------------------------------------- several batches

test('splitRecordBatches frames any magic and reports a partial tail', async () => {
  const a = readmeBatch();
  const b = encodeRecordBatchSync(createRecordBatch([{ value: 'second' }], { compression: CompressionCodec.Gzip }));
  const legacy = hex('0000000000000000 0000000e 00000000 00 00 ffffffff ffffffff');
  const all = Buffer.concat([a, legacy, b, b.subarray(0, 30)]);
  const { batches, partialTailBytes } = splitRecordBatches(all);
  assert.deepEqual(batches, [a, legacy, b]);
  assert.equal(partialTailBytes, 30);
  assert.deepEqual(splitRecordBatches(Buffer.alloc(0)), { batches: [], partialTailBytes: 0 });
  assert.deepEqual(splitRecordBatches(a.subarray(0, 11)), { batches: [], partialTailBytes: 11 });
});

test('decodeRecordBatches reads a Fetch-style records field and leaves out a cut-off last batch', async () => {
  const first = readmeBatch();
  const second = await encodeRecordBatch(
    createRecordBatch([{ value: 'z1' }, { value: 'z2' }], { compression: CompressionCodec.Zstd, baseOffset: 2n }),
  );
  const records = Buffer.concat([first, second, first.subarray(0, 70)]);
  const batches = await decodeRecordBatches(records);
  assert.equal(batches.length, 2);
  assert.deepEqual(
    batches[1]!.records.map((r) => [recordOffset(batches[1]!, r), r.value!.toString()]),
    [
      [2n, 'z1'],
      [3n, 'z2'],
    ],
  );
  await assert.rejects(decodeRecordBatches(records, { allowPartialTail: false }), isDecodeError(/partial batch of 70/));
  assert.equal(decodeRecordBatchesSync(Buffer.concat([first, first])).length, 2);
});

test('errors inside the second batch of a records field point at its bytes in the field', async () => {
  const second = readmeBatch();
  second[70]! ^= 0xff;
  await assert.rejects(
    decodeRecordBatches(Buffer.concat([readmeBatch(), second])),
    (e: unknown) => e instanceof DecodeError && e.offset === 91 + 17 && /CRC/.test(e.message),
  );
});

test('a records field holding a magic 1 message set is refused by the magic-2 decoder', async () => {
  const legacy = hex('0000000000000000 00000016 00000000 01 00 0000000000000000 ffffffff ffffffff');
  await assert.rejects(decodeRecordBatches(legacy), isDecodeError(/magic 1/));
});

// ---------------------------------------------------------------- malformed input

test('a batch whose length runs past the input, or is followed by more bytes, is refused', async () => {
  await assert.rejects(decodeRecordBatch(readmeBatch().subarray(0, 90)), isDecodeError(/truncated/));
  await assert.rejects(decodeRecordBatch(Buffer.concat([readmeBatch(), Buffer.alloc(1)])), isDecodeError(/followed/));
});

test('a CRC mismatch is refused unless the caller opts out', async () => {
  const batch = readmeBatch();
  batch[70]! ^= 0x01; // the "e" of "hello"
  await assert.rejects(decodeRecordBatch(batch), isDecodeError(/CRC 0xb422882e/));
  const decoded = await decodeRecordBatch(batch, { verifyCrc: false });
  assert.equal(decoded.records[0]!.value!.toString(), 'hdllo');
});

test('codecs 5–7 are DecodeErrors even with a valid CRC', async () => {
  for (const codec of [5, 6, 7]) {
    const batch = readmeBatch();
    batch.writeInt16BE(codec, 21);
    updateBatchCrc(batch);
    await assert.rejects(decodeRecordBatch(batch), isDecodeError(new RegExp(`codec ${codec}`)));
  }
});

test('a record count that disagrees with the records is refused either way', async () => {
  const more = readmeBatch();
  more.writeInt32BE(3, 57);
  updateBatchCrc(more);
  await assert.rejects(decodeRecordBatch(more), DecodeError);
  const fewer = readmeBatch();
  fewer.writeInt32BE(1, 57);
  updateBatchCrc(fewer);
  await assert.rejects(decodeRecordBatch(fewer), isDecodeError(/follow the last of the 1 records/));
  const huge = readmeBatch();
  huge.writeInt32BE(0x7fffffff, 57);
  updateBatchCrc(huge);
  await assert.rejects(decodeRecordBatch(huge), isDecodeError(/cannot fit/));
});

test('record-level lies are DecodeErrors', async () => {
  // Each record hex is: length, attributes, timestampDelta, offsetDelta, key, value, headers.
  const cases: Array<[string, string, RegExp]> = [
    ['record length past the batch', '7e 00 00 00 01 01 00', /Record length 63 exceeds/],
    ['record length below any record', '02 00 00 00 00 00 00', /Invalid record length 1/],
    ['record length longer than its fields', '0e 00 00 00 01 01 00 00', /fields end 1 bytes earlier/],
    ['key length below −1', '0c 00 00 00 03 01 00', /key length -2/],
    ['value length past the record', '0c 00 00 00 01 40 00', /value length 32 exceeds/],
    ['negative header count', '0c 00 00 00 01 01 01', /header count -1/],
    ['header count larger than the bytes', '0c 00 00 00 01 01 7e', /header count 63 does not fit/],
    ['negative header key length', '10 00 00 00 01 01 02 01 01', /header key length -1/],
    ['varint longer than 5 bytes', '16 00 00 ffffffffff7f 01 01 00', /Varint longer/],
    ['varlong longer than 10 bytes', '20 00 ffffffffffffffffffff01 00 01 01 00', /Varlong longer/],
  ];
  for (const [name, records, pattern] of cases) {
    await assert.rejects(decodeRecordBatch(withRecords(records, 1)), isDecodeError(pattern), name);
  }
});

test('compressed records that do not decompress, or lie once decompressed, are DecodeErrors', async () => {
  await assert.rejects(decodeRecordBatch(withRecords('1f8b0800 deadbeef', 1, CompressionCodec.Gzip)), DecodeError);
  const inner = encodeRecordBatchSync(createRecordBatch([{ value: 'a' }], { compression: CompressionCodec.Gzip }));
  inner.writeInt32BE(2, 57);
  updateBatchCrc(inner);
  await assert.rejects(decodeRecordBatch(inner), isDecodeError(/after gzip decompression/));
});

test('a compressed batch inflating past maxDecompressedSize is refused', async () => {
  const batch = await encodeRecordBatch(
    createRecordBatch([{ value: Buffer.alloc(4 * 1024 * 1024) }], { compression: CompressionCodec.Gzip }),
  );
  assert.ok(batch.length < 10_000);
  await assert.rejects(decodeRecordBatch(batch, { maxDecompressedSize: 1024 * 1024 }), isDecodeError(/limit/));
  assert.equal((await decodeRecordBatch(batch)).records[0]!.value!.length, 4 * 1024 * 1024);
});

test('values the format cannot carry are EncodeErrors', () => {
  const ok = createRecordBatch([{ value: 'x' }]);
  const bad: Array<[string, RecordBatch]> = [
    ['producerEpoch', { ...ok, producerEpoch: 40000 }],
    ['baseOffset', { ...ok, baseOffset: 2n ** 63n }],
    ['attributes codec', { ...ok, attributes: 5 }],
    ['offsetDelta', { ...ok, records: [{ ...ok.records[0]!, offsetDelta: 2 ** 31 }] }],
    ['record attributes', { ...ok, records: [{ ...ok.records[0]!, attributes: 200 }] }],
    ['timestampDelta', { ...ok, records: [{ ...ok.records[0]!, timestampDelta: 2n ** 64n }] }],
  ];
  for (const [name, batch] of bad) assert.throws(() => encodeRecordBatchSync(batch), EncodeError, name);
});
