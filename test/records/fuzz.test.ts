// Damaged input must come back as DecodeError or as a value, never as another exception,
// a hang, or an allocation out of proportion to the input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DecodeError } from '../../src/protocol/errors.ts';
import { compress } from '../../src/protocol/records/compression/index.ts';
import {
  batchCrcValid,
  CompressionCodec,
  ControlRecordType,
  createControlBatch,
  createRecordBatch,
  decodeControlRecord,
  decodeMessageSet,
  decodeRecordBatch,
  decodeRecordBatches,
  encodeCompressedMessageSet,
  encodeMessageSet,
  encodeRecordBatch,
  readBatchHeader,
  splitRecordBatches,
  updateBatchCrc,
} from '../../src/protocol/records/index.ts';
import { readmeBatch } from './vector.ts';

const CODECS = [
  CompressionCodec.None,
  CompressionCodec.Gzip,
  CompressionCodec.Snappy,
  CompressionCodec.Lz4,
  CompressionCodec.Zstd,
] as const;
const LIMIT = { maxDecompressedSize: 4 * 1024 * 1024 };

async function onlyDecodeErrors(label: string, run: () => unknown): Promise<void> {
  try {
    await run();
  } catch (e) {
    if (e instanceof DecodeError) return;
    assert.fail(`${label}: threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
}

type Mutation =
  | { kind: 'flip'; at: number[]; bits: number[] }
  | { kind: 'truncate'; length: number }
  | { kind: 'splice'; at: number; remove: number; insert: Uint8Array }
  | { kind: 'int32'; at: number; value: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
    bits: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 4, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat() }),
  fc.record({
    kind: fc.constant('splice' as const),
    at: fc.nat(),
    remove: fc.nat({ max: 8 }),
    insert: fc.uint8Array({ maxLength: 8 }),
  }),
  // Length and count fields are where lies do the most damage.
  fc.record({
    kind: fc.constant('int32' as const),
    at: fc.constantFrom(8, 57, 12, 23),
    value: fc.oneof(fc.integer(), fc.constantFrom(-1, 0, 1, 48, 49, 0x7fffffff, -0x80000000)),
  }),
);

function mutate(input: Buffer, m: Mutation): Buffer {
  const out = Buffer.from(input);
  switch (m.kind) {
    case 'flip':
      m.at.forEach((a, i) => {
        out[a % out.length]! ^= 1 << m.bits[i]!;
      });
      return out;
    case 'truncate':
      return out.subarray(0, m.length % out.length);
    case 'splice': {
      const at = m.at % (out.length + 1);
      return Buffer.concat([out.subarray(0, at), Buffer.from(m.insert), out.subarray(at + m.remove)]);
    }
    case 'int32':
      out.writeInt32BE(m.value, m.at);
      return out;
  }
}

async function seedBatch(codec: CompressionCodec): Promise<Buffer> {
  return encodeRecordBatch(
    createRecordBatch(
      [
        { key: 'k1', value: 'v'.repeat(40), headers: [{ key: 'h', value: null }], timestamp: 10n },
        { key: null, value: null, timestamp: 12n },
        {
          key: 'k3',
          value: 'value three',
          headers: [
            { key: 'a', value: 'b' },
            { key: 'c', value: '' },
          ],
        },
      ],
      { compression: codec, producerId: 5n, producerEpoch: 1, baseSequence: 0, timestamp: 11n },
    ),
  );
}

for (const codec of CODECS) {
  test(`codec ${codec}: damaged batches give DecodeError or a batch`, async () => {
    const seed = await seedBatch(codec);
    await fc.assert(
      fc.asyncProperty(mutationArb, async (m) => {
        const bytes = mutate(seed, m);
        await onlyDecodeErrors('checked', () => decodeRecordBatch(bytes, LIMIT));
        await onlyDecodeErrors('unchecked', () => decodeRecordBatch(bytes, { ...LIMIT, verifyCrc: false }));
        await onlyDecodeErrors('header', () => readBatchHeader(bytes));
        await onlyDecodeErrors('crc', () => batchCrcValid(bytes));
        await onlyDecodeErrors('several', () => decodeRecordBatches(Buffer.concat([seed, bytes, seed]), LIMIT));
      }),
      { numRuns: 300 },
    );
  });

  // A flipped byte inside compressed data mostly fails decompression; to reach the record
  // parser behind every codec, damage the records first and compress what is left.
  test(`codec ${codec}: damaged records inside a valid compressed stream give DecodeError or a batch`, async () => {
    const seed = await seedBatch(CompressionCodec.None);
    const header = seed.subarray(0, 61);
    const records = seed.subarray(61);
    await fc.assert(
      fc.asyncProperty(mutationArb, async (m) => {
        const damaged = mutate(records, m.kind === 'int32' ? { ...m, at: m.at % records.length } : m);
        const payload = codec === CompressionCodec.None ? damaged : await compress(codec, damaged);
        const batch = Buffer.concat([header, payload]);
        batch.writeInt32BE(batch.length - 12, 8);
        batch.writeInt16BE(codec, 21);
        updateBatchCrc(batch);
        await onlyDecodeErrors('records', () => decodeRecordBatch(batch, LIMIT));
      }),
      { numRuns: 200 },
    );
  });
}

test('random bytes dressed as a batch give DecodeError or a batch', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.integer({ min: 0, max: 4 }),
      async (raw, codec) => {
        const bytes = Buffer.from(raw);
        if (bytes.length >= 61) {
          bytes.writeInt32BE(bytes.length - 12, 8);
          bytes[16] = 2;
          bytes.writeInt16BE(codec, 21);
        }
        await onlyDecodeErrors('random', () => decodeRecordBatch(bytes, { ...LIMIT, verifyCrc: false }));
        await onlyDecodeErrors('split', () => splitRecordBatches(bytes));
      },
    ),
    { numRuns: 500 },
  );
});

test('damaged README and control batches give DecodeError or a batch', async () => {
  const control = await encodeRecordBatch(
    createControlBatch({ type: ControlRecordType.COMMIT, coordinatorEpoch: 1, producerId: 1n, producerEpoch: 0 }),
  );
  for (const seed of [readmeBatch(), control]) {
    await fc.assert(
      fc.asyncProperty(mutationArb, async (m) => {
        const bytes = mutate(seed, m);
        await onlyDecodeErrors('batch', async () => {
          const batch = await decodeRecordBatch(bytes, { verifyCrc: false });
          for (const r of batch.records) await onlyDecodeErrors('control', () => decodeControlRecord(r));
        });
      }),
      { numRuns: 300 },
    );
  }
});

test('damaged legacy message sets give DecodeError or messages', async () => {
  const seeds = [
    encodeMessageSet([
      { offset: 0n, magic: 0, key: Buffer.from('k'), value: Buffer.from('v') },
      { offset: 1n, magic: 1, timestamp: 3n, key: null, value: Buffer.from('w') },
    ]),
    ...[CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4].flatMap((codec) =>
      ([0, 1] as const).map((magic) =>
        encodeCompressedMessageSet({
          magic,
          codec,
          baseOffset: 4n,
          messages: [
            { value: Buffer.from('inner one'), timestamp: 1n },
            { key: Buffer.from('k'), value: null },
          ],
        }),
      ),
    ),
  ];
  for (const seed of seeds) {
    await fc.assert(
      fc.asyncProperty(mutationArb, async (m) => {
        const bytes = mutate(seed, m.kind === 'int32' ? { ...m, at: m.at % (seed.length - 3) } : m);
        await onlyDecodeErrors('checked', () => decodeMessageSet(bytes, LIMIT));
        await onlyDecodeErrors('unchecked', () => decodeMessageSet(bytes, { ...LIMIT, verifyCrc: false }));
      }),
      { numRuns: 150 },
    );
  }
});
