const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, P2)) >>> 0, 13), P1) >>> 0;
}

/**
 * XXH32 of `bytes[start, end)`. The LZ4 frame format checksums its descriptor with it,
 * and fixing the descriptor checksum of old Kafka LZ4 data needs it; inputs are tiny.
 */
export function xxhash32(bytes: Uint8Array, start = 0, end = bytes.length, seed = 0): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = end - start;
  let at = start;
  let h: number;
  if (length >= 16) {
    let v1 = (seed + P1 + P2) >>> 0;
    let v2 = (seed + P2) >>> 0;
    let v3 = seed >>> 0;
    let v4 = (seed - P1) >>> 0;
    for (; at + 16 <= end; at += 16) {
      v1 = round(v1, view.getUint32(at, true));
      v2 = round(v2, view.getUint32(at + 4, true));
      v3 = round(v3, view.getUint32(at + 8, true));
      v4 = round(v4, view.getUint32(at + 12, true));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0;
  } else {
    h = (seed + P5) >>> 0;
  }
  h = (h + length) >>> 0;
  for (; at + 4 <= end; at += 4) {
    h = Math.imul(rotl((h + Math.imul(view.getUint32(at, true), P3)) >>> 0, 17), P4) >>> 0;
  }
  for (; at < end; at++) {
    h = Math.imul(rotl((h + Math.imul(bytes[at]!, P5)) >>> 0, 11), P1) >>> 0;
  }
  h = Math.imul(h ^ (h >>> 15), P2) >>> 0;
  h = Math.imul(h ^ (h >>> 13), P3) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
