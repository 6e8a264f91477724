// Batches from @platformatic/kafka's encoder: a second independent writer, and the one
// that sends raw (unframed) snappy and lz4 frames from its own WebAssembly build.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRecordsBatch } from '@platformatic/kafka';
import { XERIAL_MAGIC } from '../../src/protocol/records/compression/index.ts';
import {
  batchCrcValid,
  CompressionCodec,
  decodeRecordBatch,
  encodeRecordBatch,
  readBatchHeader,
  recordTimestamp,
} from '../../src/protocol/records/index.ts';

for (const [name, codec] of [
  ['none', CompressionCodec.None],
  ['gzip', CompressionCodec.Gzip],
  ['snappy', CompressionCodec.Snappy],
  ['lz4', CompressionCodec.Lz4],
] as const) {
  test(`@platformatic/kafka ${name} batch decodes, and re-encodes to a batch it reads the same`, async () => {
    const messages = Array.from({ length: 50 }, (_, i) => ({
      topic: 't',
      key: Buffer.from(`key-${i}`),
      value: Buffer.from(`value ${i} `.repeat(20)),
      headers: new Map([[Buffer.from('n'), Buffer.from(String(i))]]),
      timestamp: 1700000000000n + BigInt(i),
    }));
    const bytes: Buffer = createRecordsBatch(messages, { compression: name }).buffer;
    assert.equal(batchCrcValid(bytes), true);
    assert.equal(readBatchHeader(bytes).compression, codec);
    if (codec === CompressionCodec.Snappy) assert.notDeepEqual(bytes.subarray(61, 69), XERIAL_MAGIC);
    const batch = await decodeRecordBatch(bytes);
    assert.equal(batch.records.length, 50);
    batch.records.forEach((r, i) => {
      assert.equal(r.key!.toString(), `key-${i}`);
      assert.equal(r.value!.toString(), `value ${i} `.repeat(20));
      assert.deepEqual(r.headers, [{ key: 'n', value: Buffer.from(String(i)) }]);
      assert.equal(recordTimestamp(batch, r), 1700000000000n + BigInt(i));
    });
    const again = await encodeRecordBatch(batch);
    if (codec === CompressionCodec.None || codec === CompressionCodec.Gzip) assert.deepEqual(again, bytes);
    assert.deepEqual(await decodeRecordBatch(again), batch);
  });
}
