import fc from 'fast-check';
import type { KafkaRecord, RecordBatch } from '../../src/protocol/records/index.ts';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((u) => Buffer.from(u));
const nullableBytes = (maxLength: number) => fc.option(bytes(maxLength), { nil: null, freq: 4 });

/** Deltas lean on the edges, where varint and varlong encodings change length or sign. */
const int32 = fc.oneof(
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  fc.constantFrom(0, 1, -1, 63, 64, -64, -65, 8191, 8192, 0x7fffffff, -0x80000000),
);
const int64 = fc.oneof(
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  fc.constantFrom(0n, -1n, 1n, 1700000000000n, INT64_MIN, INT64_MAX, 2n ** 35n, -(2n ** 35n)),
);

/** fc.record builds null-prototype objects, which strict deepEqual tells apart from decoded ones. */
function plain<T extends object>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return arb.map((o) => ({ ...o }));
}

export const recordArb: fc.Arbitrary<KafkaRecord> = fc
  .record({
    attributes: fc.constantFrom(0, 0, 0, 1, -128, 127),
    timestampDelta: int64,
    offsetDelta: int32,
    key: nullableBytes(40),
    value: nullableBytes(300),
    headers: fc.array(
      plain(fc.record({ key: fc.string({ maxLength: 12, unit: 'grapheme' }), value: nullableBytes(20) })),
      { maxLength: 4 },
    ),
  })
  .map((r) => ({ ...r }));

/** Any batch the format can carry, codec fixed by the caller. */
export function batchArb(compression: number): fc.Arbitrary<RecordBatch> {
  return plain(
    fc.record({
      baseOffset: int64,
      partitionLeaderEpoch: int32,
      attributes: fc.integer({ min: 0, max: 0xffff }).map((a) => (((a & ~0x07) | compression) << 16) >> 16),
      lastOffsetDelta: int32,
      baseTimestamp: int64,
      maxTimestamp: int64,
      producerId: int64,
      producerEpoch: fc.integer({ min: -0x8000, max: 0x7fff }),
      baseSequence: int32,
      records: fc.array(recordArb, { maxLength: 12 }),
    }),
  );
}
