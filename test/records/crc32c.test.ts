import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32c, crc32cIsNative, crc32cPure } from '../../src/protocol/records/crc32c.ts';
import { readmeBatch } from './vector.ts';

test('the standard check value "123456789" is 0xE3069283 in both implementations', () => {
  const input = Buffer.from('123456789', 'latin1');
  assert.equal(crc32cPure(input), 0xe3069283);
  assert.equal(crc32c(input), 0xe3069283);
});

test('the CRC of nothing is 0', () => {
  assert.equal(crc32cPure(Buffer.alloc(0)), 0);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  assert.equal(crc32c(Buffer.from('abc'), 2, 2), 0);
});

test('32 zero bytes and 32 0xff bytes give the RFC 3720 values', () => {
  assert.equal(crc32cPure(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32cPure(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
});

test('the README batch checksums to its stored CRC 0xb422882e over bytes 21..end', () => {
  const batch = readmeBatch();
  assert.equal(crc32cPure(batch, 21), 0xb422882e);
  assert.equal(crc32c(batch, 21, batch.length), 0xb422882e);
  assert.equal(batch.readUInt32BE(17), 0xb422882e);
});

test('the native binding loads here, so production does not silently run the slow path', () => {
  assert.equal(crc32cIsNative, true);
});

test('native and pure agree on random buffers and random sub-ranges', () => {
  for (const size of [1, 7, 8, 9, 63, 64, 65, 4096, 100_003]) {
    const buf = randomBytes(size);
    assert.equal(crc32c(buf), crc32cPure(buf), `size ${size}`);
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (b % (bytes.length - start + 1));
      assert.equal(crc32c(bytes, start, end), crc32cPure(bytes, start, end));
      assert.equal(crc32c(bytes, start, end), crc32cPure(bytes.slice(start, end)));
    }),
  );
});

test('a range outside the input is a RangeError, not a checksum of something else', () => {
  const buf = Buffer.alloc(4);
  assert.throws(() => crc32c(buf, 0, 5), RangeError);
  assert.throws(() => crc32c(buf, 3, 2), RangeError);
  assert.throws(() => crc32cPure(buf, -1), RangeError);
});
