import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { startBroker } from '../../src/index.ts';
import { lz4, snappy, zstd } from '../../src/protocol/records/compression/index.ts';

const require = createRequire(import.meta.url);
const BINDINGS = ['lz4-napi', 'snappy', '@mongodb-js/zstd'];

function loaded(name: string): boolean {
  const main = require.resolve(name);
  return main in require.cache;
}

// Each binding maps several MiB into the process; an idle broker that never meets a
// compressed batch it must open should not carry them.
test('a started broker has loaded no compression binding until a codec is used', async () => {
  const broker = await startBroker();
  try {
    for (const name of BINDINGS) assert.equal(loaded(name), false, `${name} loaded at start-up`);
    const data = Buffer.from('tributary '.repeat(100));
    assert.deepEqual(lz4.decompressSync!(lz4.compressSync!(data), { maxSize: 1 << 20 }), data);
    assert.deepEqual(snappy.decompressSync!(snappy.compressSync!(data), { maxSize: 1 << 20 }), data);
    assert.deepEqual(await zstd.decompress(await zstd.compress(data), { maxSize: 1 << 20 }), data);
    for (const name of BINDINGS) assert.equal(loaded(name), true, `${name} not loaded after use`);
  } finally {
    await broker.close();
  }
});
