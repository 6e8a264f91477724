import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { compressFrameSync } from 'lz4-napi';
import { compressSync as rawSnappyCompress } from 'snappy';
import { DecodeError, EncodeError } from '../../src/protocol/errors.ts';
import {
  type Codec,
  codecByName,
  codecFor,
  compress,
  decompressLz4MagicV0,
  decompressSync,
  gzip,
  lz4,
  SyncCompressionUnavailableError,
  snappy,
  XERIAL_MAGIC,
  xxhash32,
  zstd,
} from '../../src/protocol/records/compression/index.ts';
import { fixtureText, GZIP_CLI, LZ4_BLOCK_CHECKSUMS, LZ4_LINKED_BLOCKS, ZSTD_STREAMED } from './fixtures.ts';

const MiB = 1024 * 1024;
const roomy = { maxSize: 64 * MiB };
const codecs: Codec[] = [gzip, snappy, lz4, zstd];

function isDecodeError(pattern?: RegExp) {
  return (e: unknown) => e instanceof DecodeError && (pattern === undefined || pattern.test(e.message));
}

function compressible(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7) % 61;
  return out;
}

for (const codec of codecs) {
  test(`${codec.name}: round trips empty, tiny, random and compressible inputs`, async () => {
    for (const input of [Buffer.alloc(0), Buffer.from('x'), randomBytes(100_000), compressible(3 * MiB)]) {
      const packed = await codec.compress(input);
      assert.deepEqual(await codec.decompress(packed, roomy), input);
      if (codec.compressSync && codec.decompressSync) {
        const packedSync = codec.compressSync(input);
        assert.deepEqual(codec.decompressSync(packedSync, roomy), input);
        assert.deepEqual(codec.decompressSync(packed, roomy), input);
      }
    }
  });

  test(`${codec.name}: garbage, truncation and a cap below the content are DecodeErrors`, async () => {
    const input = compressible(200_000);
    const packed = await codec.compress(input);
    for (const bad of [randomBytes(50), packed.subarray(0, packed.length >> 1), packed.subarray(0, 3)]) {
      await assert.rejects(codec.decompress(bad, roomy), isDecodeError());
    }
    await assert.rejects(codec.decompress(packed, { maxSize: 100_000 }), isDecodeError(/limit/));
    await assert.rejects(codec.decompress(packed, { maxSize: 100_000, position: 61 }), (e: unknown) => {
      return e instanceof DecodeError && e.offset >= 61;
    });
    // lz4 and zstd bound the output from block headers, so they need a block of slack;
    // gzip and snappy know the exact size.
    const exact = codec === gzip || codec === snappy;
    assert.deepEqual(await codec.decompress(packed, { maxSize: exact ? input.length : 2 * input.length }), input);
  });
}

test('codec ids: 1–4 are the codecs, 0 and 5–7 are not', async () => {
  assert.equal(codecFor(1), gzip);
  assert.equal(codecFor(2), snappy);
  assert.equal(codecFor(3), lz4);
  assert.equal(codecFor(4), zstd);
  for (const id of [0, 5, 6, 7]) assert.throws(() => codecFor(id, 21), isDecodeError(/codec/));
  assert.throws(() => decompressSync(5, Buffer.alloc(1), roomy), DecodeError);
  await assert.rejects(compress(6, Buffer.alloc(1)), EncodeError);
  assert.equal(codecByName('zstd'), zstd);
  assert.equal(codecByName('brotli'), undefined);
});

test('zstd has no sync variant and says so with its own error', () => {
  assert.throws(() => decompressSync(4, Buffer.alloc(8), roomy), SyncCompressionUnavailableError);
});

// ---------------------------------------------------------------- gzip

test('gzip: reads the gzip command-line tool output and concatenated members', async () => {
  const text = Buffer.from('tributary '.repeat(50));
  assert.deepEqual(await gzip.decompress(GZIP_CLI, roomy), text);
  const twoMembers = Buffer.concat([zlib.gzipSync('ab'), zlib.gzipSync('cd')]);
  assert.equal(gzip.decompressSync!(twoMembers, roomy).toString(), 'abcd');
});

test('gzip: a 16 MiB bomb in 16 KiB is stopped at the cap', async () => {
  const bomb = zlib.gzipSync(Buffer.alloc(16 * MiB), { level: 9 });
  assert.ok(bomb.length < 20_000);
  await assert.rejects(gzip.decompress(bomb, { maxSize: MiB }), isDecodeError(/limit/));
  assert.throws(() => gzip.decompressSync!(bomb, { maxSize: MiB }), isDecodeError(/limit/));
});

test('gzip: an empty stream decodes under a zero cap', async () => {
  assert.equal((await gzip.decompress(zlib.gzipSync(Buffer.alloc(0)), { maxSize: 0 })).length, 0);
});

// ---------------------------------------------------------------- snappy

test('snappy: writes the xerial framing with 32 KiB blocks, as the Java client does', () => {
  const input = compressible(100 * 1024);
  const packed = snappy.compressSync!(input);
  assert.deepEqual(packed.subarray(0, 8), Buffer.from('82534e4150505900', 'hex'));
  assert.deepEqual(packed.subarray(0, 8), XERIAL_MAGIC);
  assert.equal(packed.readInt32BE(8), 1);
  assert.equal(packed.readInt32BE(12), 1);
  const blocks: Buffer[] = [];
  for (let at = 16; at < packed.length; ) {
    const size = packed.readInt32BE(at);
    blocks.push(packed.subarray(at + 4, at + 4 + size));
    at += 4 + size;
  }
  assert.equal(blocks.length, 4);
  assert.deepEqual(
    blocks.map((b) => (snappy.decompressSync!(b, roomy) as Buffer).length),
    [32768, 32768, 32768, 4096],
  );
});

test('snappy: reads raw blocks as librdkafka and @platformatic/kafka send them', () => {
  const input = compressible(70_000);
  const raw = rawSnappyCompress(input);
  assert.notDeepEqual(raw.subarray(0, 8), XERIAL_MAGIC);
  assert.deepEqual(snappy.decompressSync!(raw, roomy), input);
});

test('snappy: reads concatenated xerial streams, each with its own header', () => {
  const a = snappy.compressSync!(Buffer.from('first '));
  const b = snappy.compressSync!(Buffer.from('second'));
  assert.equal(snappy.decompressSync!(Buffer.concat([a, b]), roomy).toString(), 'first second');
});

test('snappy: a block declaring 4 GiB is refused before anything is allocated', () => {
  const lie = Buffer.from('ffffffff0f00', 'hex');
  assert.throws(() => snappy.decompressSync!(lie, roomy), isDecodeError(/declares 4294967295/));
  const framed = Buffer.concat([snappy.compressSync!(Buffer.alloc(0)), Buffer.from('00000006ffffffff0f00', 'hex')]);
  assert.throws(() => snappy.decompressSync!(framed, roomy), isDecodeError(/declares/));
});

test('snappy: xerial block lengths that are zero, negative or past the end are DecodeErrors', () => {
  const header = snappy.compressSync!(Buffer.alloc(0));
  for (const tail of ['00000000', 'fffffffe00', '0000ffff01', '0000']) {
    assert.throws(() => snappy.decompressSync!(Buffer.concat([header, Buffer.from(tail, 'hex')]), roomy), DecodeError);
  }
});

// ---------------------------------------------------------------- lz4

test('lz4: reads the lz4 tool output with linked blocks, block checksums and content size', () => {
  assert.deepEqual(lz4.decompressSync!(LZ4_LINKED_BLOCKS, roomy), fixtureText());
  assert.equal(lz4.decompressSync!(LZ4_BLOCK_CHECKSUMS, roomy).toString(), 'tributary '.repeat(50));
});

test('lz4: reads every frame of a concatenation and skips skippable frames', () => {
  const skippable = Buffer.from('502a4d180300000061626364', 'hex').subarray(0, 11);
  const out = lz4.decompressSync!(
    Buffer.concat([compressFrameSync(Buffer.from('one ')), skippable, compressFrameSync(Buffer.from('two'))]),
    roomy,
  );
  assert.equal(out.toString(), 'one two');
});

test('lz4: a content size or block count beyond the cap is refused before decompression', () => {
  const big = compressFrameSync(Buffer.alloc(8 * MiB));
  assert.throws(() => lz4.decompressSync!(big, { maxSize: MiB }), isDecodeError(/may inflate/));
  // The tool's frame declares its content size (159170 bytes).
  assert.throws(() => lz4.decompressSync!(LZ4_LINKED_BLOCKS, { maxSize: 100_000 }), isDecodeError(/declares 159170/));
});

test('lz4: a wrong header checksum is refused, except where magic 0 data needs it repaired', () => {
  const frame = Buffer.from(compressFrameSync(Buffer.from('legacy lz4')));
  // Kafka 0.8/0.9 hashed the descriptor together with the magic number (KAFKA-1493).
  frame[6] = (xxhash32(frame, 0, 6) >>> 8) & 0xff;
  assert.throws(() => lz4.decompressSync!(frame, roomy), isDecodeError(/lz4/));
  assert.equal(decompressLz4MagicV0(frame, roomy).toString(), 'legacy lz4');
});

test('xxhash32 matches the reference value and the checksums lz4 wrote into its frames', () => {
  assert.equal(xxhash32(Buffer.alloc(0)), 0x02cc5d05);
  // Descriptor checksum: second byte of XXH32 over FLG..(content size).
  const descriptorEnd = 4 + 2 + 8;
  assert.equal((xxhash32(LZ4_LINKED_BLOCKS, 4, descriptorEnd) >>> 8) & 0xff, LZ4_LINKED_BLOCKS[descriptorEnd]);
  // Content checksum: XXH32 of the whole decompressed content, in the last 4 bytes.
  const text = fixtureText();
  assert.equal(xxhash32(text), LZ4_LINKED_BLOCKS.readUInt32LE(LZ4_LINKED_BLOCKS.length - 4));
});

// ---------------------------------------------------------------- zstd

test('zstd: reads a streamed frame without content size, concatenated frames and skippable frames', async () => {
  assert.deepEqual(await zstd.decompress(ZSTD_STREAMED, roomy), fixtureText());
  const skippable = Buffer.from('5e2a4d1802000000abcd', 'hex');
  const two = Buffer.concat([
    await zstd.compress(Buffer.from('ab')),
    skippable,
    await zstd.compress(Buffer.from('cd')),
  ]);
  assert.equal((await zstd.decompress(two, roomy)).toString(), 'abcd');
});

/** A frame of `blocks` RLE blocks of 128 KiB each, with no declared content size: 4 bytes per 128 KiB. */
function zstdRleBomb(blocks: number): Buffer {
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]); // 128 KiB window, no FCS
  const parts = [header];
  for (let i = 0; i < blocks; i++) {
    const word = ((128 * 1024) << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0);
    parts.push(Buffer.from([word & 0xff, (word >> 8) & 0xff, (word >> 16) & 0xff, 0x41]));
  }
  return Buffer.concat(parts);
}

test('zstd: an RLE bomb is refused from its block headers, a small one still decodes', async () => {
  const small = zstdRleBomb(2);
  assert.deepEqual(await zstd.decompress(small, roomy), Buffer.alloc(256 * 1024, 0x41));
  const bomb = zstdRleBomb(100_000); // 400 kB that would inflate to 12.5 GiB
  await assert.rejects(zstd.decompress(bomb, roomy), isDecodeError(/may inflate/));
});

test('zstd: a declared content size or window beyond the limits is refused', async () => {
  // Single segment, 4-byte content size of 1 GiB, then an empty last raw block.
  const fcs = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 0x40, 0x01, 0, 0]);
  await assert.rejects(zstd.decompress(fcs, roomy), isDecodeError(/declares 1073741824/));
  // Window descriptor exponent 20: a 1 GiB window.
  const window = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3, 0x01, 0, 0]);
  await assert.rejects(zstd.decompress(window, roomy), isDecodeError(/window/));
});

test('zstd: reserved bits, reserved block types and oversize blocks are DecodeErrors', async () => {
  await assert.rejects(zstd.decompress(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x08, 0x38, 1, 0, 0]), roomy), DecodeError);
  await assert.rejects(zstd.decompress(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38, 7, 0, 0]), roomy), DecodeError);
  const oversize = ((200 * 1024) << 3) | 1;
  await assert.rejects(
    zstd.decompress(
      Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0x38, oversize & 0xff, (oversize >> 8) & 0xff, oversize >> 16]),
      roomy,
    ),
    isDecodeError(/exceeds/),
  );
});
