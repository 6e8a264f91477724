import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compressFrameSync } from 'lz4-napi';
import { DecodeError } from '../../src/protocol/errors.ts';
import { xxhash32 } from '../../src/protocol/records/compression/index.ts';
import {
  CompressionCodec,
  crc32,
  decodeMessageSet,
  encodeCompressedMessageSet,
  encodeLegacyMessage,
  encodeMessageSet,
  TimestampType,
} from '../../src/protocol/records/index.ts';
import { hex } from './vector.ts';

function isDecodeError(pattern?: RegExp) {
  return (e: unknown) => e instanceof DecodeError && (pattern === undefined || pattern.test(e.message));
}

test('zlib CRC-32: the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('a magic 0 message has the layout offset, size, crc, magic, attributes, key, value', () => {
  const encoded = encodeLegacyMessage({ offset: 5n, magic: 0, key: Buffer.from('k'), value: Buffer.from('v') });
  assert.deepEqual(
    encoded,
    hex(
      `0000000000000005 00000010 ${crc32(hex('00 00 00000001 6b 00000001 76')).toString(16).padStart(8, '0')} 00 00 00000001 6b 00000001 76`,
    ),
  );
  assert.deepEqual(decodeMessageSet(encoded), [
    {
      offset: 5n,
      magic: 0,
      attributes: 0,
      timestamp: null,
      timestampType: null,
      key: Buffer.from('k'),
      value: Buffer.from('v'),
    },
  ]);
});

test('magic 1 messages carry a timestamp and its type', () => {
  const set = encodeMessageSet([
    { offset: 0n, magic: 1, timestamp: 1600000000000n, key: null, value: Buffer.from('a') },
    { offset: 1n, magic: 1, attributes: 0x08, timestamp: 1600000000001n, key: Buffer.alloc(0), value: null },
  ]);
  const messages = decodeMessageSet(set);
  assert.deepEqual(
    messages.map((m) => [m.offset, m.magic, m.timestamp, m.timestampType, m.key, m.value]),
    [
      [0n, 1, 1600000000000n, TimestampType.CreateTime, null, Buffer.from('a')],
      [1n, 1, 1600000000001n, TimestampType.LogAppendTime, Buffer.alloc(0), null],
    ],
  );
});

for (const [name, codec] of [
  ['gzip', CompressionCodec.Gzip],
  ['snappy', CompressionCodec.Snappy],
  ['lz4', CompressionCodec.Lz4],
] as const) {
  test(`magic 1 ${name} wrapper: relative inner offsets become absolute from the wrapper's offset`, () => {
    const wrapper = encodeCompressedMessageSet({
      magic: 1,
      codec,
      baseOffset: 100n,
      timestamp: 1600000000009n,
      messages: [0, 1, 2].map((i) => ({ timestamp: 1600000000000n + BigInt(i), value: Buffer.from(`m${i}`) })),
    });
    // The wrapper holds the last inner offset; inside they are 0, 1, 2.
    assert.equal(wrapper.readBigInt64BE(0), 102n);
    const shallow = decodeMessageSet(wrapper, { deep: false });
    assert.equal(shallow.length, 1);
    assert.equal(shallow[0]!.attributes & 7, codec);
    const messages = decodeMessageSet(wrapper);
    assert.deepEqual(
      messages.map((m) => [m.offset, m.timestamp, m.timestampType, m.value!.toString()]),
      [
        [100n, 1600000000000n, TimestampType.CreateTime, 'm0'],
        [101n, 1600000000001n, TimestampType.CreateTime, 'm1'],
        [102n, 1600000000002n, TimestampType.CreateTime, 'm2'],
      ],
    );
  });
}

test('magic 0 gzip wrapper: inner offsets are already absolute', () => {
  const wrapper = encodeCompressedMessageSet({
    magic: 0,
    codec: CompressionCodec.Gzip,
    baseOffset: 7n,
    messages: [{ value: Buffer.from('x') }, { key: Buffer.from('k'), value: Buffer.from('y') }],
  });
  assert.deepEqual(
    decodeMessageSet(wrapper).map((m) => [m.offset, m.magic, m.key?.toString() ?? null, m.value!.toString()]),
    [
      [7n, 0, null, 'x'],
      [8n, 0, 'k', 'y'],
    ],
  );
});

test('a LogAppendTime wrapper stamps its timestamp on every inner message', () => {
  const wrapper = encodeCompressedMessageSet({
    magic: 1,
    codec: CompressionCodec.Gzip,
    timestamp: 1700000000000n,
    timestampType: TimestampType.LogAppendTime,
    messages: [
      { timestamp: 1n, value: Buffer.from('a') },
      { timestamp: 2n, value: Buffer.from('b') },
    ],
  });
  for (const m of decodeMessageSet(wrapper)) {
    assert.equal(m.timestamp, 1700000000000n);
    assert.equal(m.timestampType, TimestampType.LogAppendTime);
  }
});

test('magic 0 lz4 with the pre-0.10 descriptor checksum is read', () => {
  const inner = encodeMessageSet([{ offset: 0n, magic: 0, value: Buffer.from('old lz4') }]);
  const frame = Buffer.from(compressFrameSync(inner));
  frame[6] = (xxhash32(frame, 0, 6) >>> 8) & 0xff; // hashed with the magic number, as Kafka 0.8 did
  const wrapper = encodeLegacyMessage({ offset: 0n, magic: 0, attributes: CompressionCodec.Lz4, value: frame });
  assert.equal(decodeMessageSet(wrapper)[0]!.value!.toString(), 'old lz4');
});

test('mixed plain and compressed messages in one set, and a partial message at the end', () => {
  const plain = encodeLegacyMessage({ offset: 0n, magic: 1, timestamp: 5n, value: Buffer.from('p') });
  const wrapped = encodeCompressedMessageSet({
    magic: 1,
    codec: CompressionCodec.Snappy,
    baseOffset: 1n,
    messages: [{ value: Buffer.from('q') }, { value: Buffer.from('r') }],
  });
  const set = Buffer.concat([plain, wrapped, plain.subarray(0, 20)]);
  assert.deepEqual(
    decodeMessageSet(set).map((m) => [m.offset, m.value!.toString()]),
    [
      [0n, 'p'],
      [1n, 'q'],
      [2n, 'r'],
    ],
  );
  assert.throws(() => decodeMessageSet(set, { allowPartialTail: false }), isDecodeError(/partial/));
});

test('corrupt legacy data is refused with DecodeError', () => {
  const good = encodeLegacyMessage({
    offset: 0n,
    magic: 1,
    timestamp: 5n,
    key: Buffer.from('k'),
    value: Buffer.from('v'),
  });
  const flipped = Buffer.from(good);
  flipped[good.length - 1]! ^= 1;
  assert.throws(() => decodeMessageSet(flipped), isDecodeError(/CRC/));
  assert.equal(decodeMessageSet(flipped, { verifyCrc: false })[0]!.value!.toString(), 'w');

  const magic2 = Buffer.from(good);
  magic2[16] = 2;
  assert.throws(() => decodeMessageSet(magic2, { verifyCrc: false }), isDecodeError(/magic 2/));

  const short = Buffer.from(good);
  short.writeInt32BE(10, 8);
  assert.throws(() => decodeMessageSet(short, { verifyCrc: false }), DecodeError);

  const keyLie = Buffer.from(good);
  keyLie.writeInt32BE(1000, 12 + 4 + 2 + 8);
  assert.throws(() => decodeMessageSet(keyLie, { verifyCrc: false }), isDecodeError(/key length 1000/));

  const nested = encodeCompressedMessageSet({
    magic: 1,
    codec: CompressionCodec.Gzip,
    messages: [{ attributes: CompressionCodec.Gzip, value: Buffer.from('x') }],
  });
  assert.throws(() => decodeMessageSet(nested), isDecodeError(/holds a compressed message/));

  const zstdWrapper = encodeLegacyMessage({ magic: 1, attributes: CompressionCodec.Zstd, value: Buffer.from('x') });
  assert.throws(() => decodeMessageSet(zstdWrapper), isDecodeError(/not valid for magic 1/));

  const nullValue = encodeLegacyMessage({ magic: 1, attributes: CompressionCodec.Gzip, value: null });
  assert.throws(() => decodeMessageSet(nullValue), isDecodeError(/null value/));

  const badGzip = encodeLegacyMessage({ magic: 0, attributes: CompressionCodec.Gzip, value: Buffer.from('nope') });
  assert.throws(() => decodeMessageSet(badGzip), DecodeError);
});

test('a legacy gzip bomb is stopped at maxDecompressedSize', () => {
  const wrapper = encodeCompressedMessageSet({
    magic: 1,
    codec: CompressionCodec.Gzip,
    messages: [{ value: Buffer.alloc(4 * 1024 * 1024) }],
  });
  assert.throws(() => decodeMessageSet(wrapper, { maxDecompressedSize: 1024 * 1024 }), isDecodeError(/limit/));
});
