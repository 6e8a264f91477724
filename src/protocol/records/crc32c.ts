import { createRequire } from 'node:module';

type NativeCrc32c = (input: Uint8Array, initialState?: number) => number;

// Loaded through require so that a missing or broken prebuilt binary degrades to the
// table version instead of failing the import of every module that checksums batches.
function loadNative(): NativeCrc32c | null {
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: NativeCrc32c };
    const fn = mod.crc32c;
    if (typeof fn !== 'function') return null;
    // A binary built for the wrong polynomial or byte order would corrupt every batch we
    // write, so it has to prove itself on the standard check value before we use it.
    return fn(Buffer.from('123456789', 'latin1')) === 0xe3069283 ? fn : null;
  } catch {
    return null;
  }
}

const native = loadNative();

/** True when checksums are computed by the native @node-rs/crc32 binding. */
export const crc32cIsNative: boolean = native !== null;

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function checkRange(bytes: Uint8Array, start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > bytes.length || start > end) {
    throw new RangeError(`CRC range ${start}..${end} is outside the ${bytes.length}-byte input`);
  }
}

/**
 * CRC-32C (Castagnoli) in plain JavaScript, one table lookup per byte. Kept deliberately
 * simple: it is the fallback when the native binding is unavailable and the oracle the
 * tests check the native binding against.
 */
export function crc32cPure(bytes: Uint8Array, start = 0, end = bytes.length): number {
  checkRange(bytes, start, end);
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32C of `bytes[start, end)` as an unsigned 32-bit number, as record batches carry it. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (native === null) return crc32cPure(bytes, start, end);
  checkRange(bytes, start, end);
  const view = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
  return native(view) >>> 0;
}
