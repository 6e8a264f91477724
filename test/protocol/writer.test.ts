import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Writer } from '../../src/protocol/writer.ts';

type Op = (w: Writer) => void;

function field<T>(arb: fc.Arbitrary<T>, write: (w: Writer, v: T) => void): fc.Arbitrary<Op> {
  return arb.map((v) => (w: Writer) => write(w, v));
}

/** One field of each kind the generated codecs write, byte fields from empty to large. */
const op: fc.Arbitrary<Op> = fc.oneof(
  field(fc.integer({ min: -128, max: 127 }), (w, v) => w.int8(v)),
  field(fc.integer({ min: -0x8000, max: 0x7fff }), (w, v) => w.int16(v)),
  field(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (w, v) => w.int32(v)),
  field(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (w, v) => w.int64(v)),
  field(fc.integer({ min: 0, max: 0xffffffff }), (w, v) => w.uvarint(v)),
  field(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (w, v) => w.varlong(v)),
  field(fc.string({ maxLength: 40 }), (w, v) => w.compactString(v)),
  field(fc.option(fc.string({ maxLength: 40 })), (w, v) => w.nullableString(v)),
  field(fc.uint8Array({ maxLength: 64 }), (w, v) => w.raw(v)),
  fc
    .tuple(
      fc.constantFrom('bytes', 'nullableBytes', 'compactBytes', 'compactNullableBytes'),
      fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 100, maxLength: 3000 })),
      fc.boolean(),
      fc.boolean(),
    )
    .map(([kind, v, asBuffer, inSlice]): Op => {
      // Buffers, plain Uint8Arrays, and views into a larger allocation (as storage reads are).
      let bytes: Uint8Array = v;
      if (inSlice) {
        const outer = new Uint8Array(v.length + 7);
        outer.set(v, 3);
        bytes = outer.subarray(3, 3 + v.length);
      }
      if (asBuffer) bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return (w) => w[kind](bytes);
    }),
);

function write(ops: Op[], w: Writer): Writer {
  for (const o of ops) o(w);
  return w;
}

describe('Writer', () => {
  test('with byte fields by reference, it writes the same bytes as without', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 60 }),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 2048 }),
        (ops, initialSize, threshold) => {
          const expected = Buffer.from(write(ops, new Writer(initialSize)).toBuffer());
          const w = write(ops, new Writer(initialSize, { referenceBytesFrom: threshold }));
          assert.equal(w.length, expected.length);
          assert.deepEqual(w.toBuffer(), expected);
          const chunks = w.chunks();
          assert.ok(chunks.length >= 1);
          assert.ok(chunks.every((c, i) => c.length > 0 || (chunks.length === 1 && i === 0)));
          assert.deepEqual(Buffer.concat(chunks), expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('a referenced byte field is the same memory in the chunks, not a copy', () => {
    const records = Buffer.alloc(64 * 1024, 7);
    const w = new Writer(64, { referenceBytesFrom: 16 * 1024 });
    w.int32(0).int16(1).compactNullableBytes(records).int32(-1);
    const chunks = w.chunks();
    assert.equal(chunks.length, 3);
    assert.equal(chunks[1], records);
    records[0] = 8;
    assert.equal(w.toBuffer()[4 + 2 + 3], 8, 'the output reads through to the referenced bytes');

    // A Uint8Array view is wrapped, not copied.
    const outer = new Uint8Array(40_000);
    const view = outer.subarray(100, 30_100);
    const v = new Writer(64, { referenceBytesFrom: 16 * 1024 }).bytes(view).chunks()[1]!;
    assert.equal(v.buffer, outer.buffer);
    assert.equal(v.byteOffset, 100);
    assert.equal(v.length, 30_000);
  });

  test('without the option, every byte field is copied into one buffer as before', () => {
    const records = Buffer.alloc(64 * 1024, 7);
    const w = new Writer().compactBytes(records);
    assert.equal(w.chunks().length, 1);
    records[0] = 8;
    assert.equal(w.toBuffer()[3], 7);
    assert.equal(w.toBuffer().buffer, w.buffer.buffer, 'toBuffer still shares the writer memory');
  });

  test('growing after a reference keeps chunks handed out, and the size prefix lands in the first chunk', () => {
    const big = Buffer.alloc(20_000, 0xab);
    const w = new Writer(16, { referenceBytesFrom: 1000 });
    w.int32(0).int32(0x11111111).bytes(big);
    const before = w.chunks();
    const head = Buffer.from(before[0]!);
    const first = w.buffer;
    // Forces the writer onto a new buffer; the head slice must stay in the old one, unchanged.
    for (let i = 0; i < 100; i++) w.int64(BigInt(i));
    assert.notEqual(w.buffer, first);
    assert.deepEqual(before[0], head);
    const chunks = w.chunks();
    assert.equal(chunks[0]!.buffer, first.buffer);
    chunks[0]!.writeInt32BE(w.length - 4, 0);
    const out = Buffer.concat(chunks);
    assert.equal(out.length, 12 + 20_000 + 800);
    assert.equal(out.readInt32BE(0), out.length - 4);
    assert.equal(out.readInt32BE(4), 0x11111111);
    assert.equal(out.readInt32BE(8), 20_000);
    assert.ok(out.subarray(12, 20_012).equals(big));
    for (let i = 0; i < 100; i++) assert.equal(out.readBigInt64BE(20_012 + i * 8), BigInt(i));
  });

  test('two references in a row leave no empty chunk between them', () => {
    const a = Buffer.alloc(2000, 1);
    const b = Buffer.alloc(3000, 2);
    const w = new Writer(8, { referenceBytesFrom: 1000 }).compactBytes(a).compactBytes(b);
    assert.deepEqual(
      w.chunks().map((c) => c.length),
      [2, 2000, 2, 3000],
    );
  });
});
