import { prng } from './random-message.ts';

const INTERESTING_32 = [0xffffffff, 0x7fffffff, 0x80000000, 0x00010000, 0];
const INTERESTING_16 = [0xffff, 0x7fff, 0x8000, 0xfffe];

/** Mutates bytes the ways broken or hostile peers do: flips, truncation, lying lengths, junk. */
export function mutator(seed: number): (input: Buffer) => Buffer {
  const rand = prng(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  return (input) => {
    const b = Buffer.from(input);
    const pos = b.length === 0 ? 0 : int(b.length);
    switch (int(8)) {
      case 0: // bit flips
        for (let i = 1 + int(3); i > 0 && b.length > 0; i--) b[int(b.length)]! ^= 1 << int(8);
        return b;
      case 1: // truncation
        return b.subarray(0, int(b.length + 1));
      case 2: // a 32-bit length or count set to −1 or huge
        if (pos + 4 <= b.length) b.writeUInt32BE(INTERESTING_32[int(INTERESTING_32.length)]!, pos);
        return b;
      case 3: // a 16-bit length set to −1 or huge
        if (pos + 2 <= b.length) b.writeUInt16BE(INTERESTING_16[int(INTERESTING_16.length)]!, pos);
        return b;
      case 4: // a varint that never ends, or one set to a huge value
        if (pos < b.length) b.fill(0xff, pos, Math.min(b.length, pos + 1 + int(8)));
        return b;
      case 5: // random bytes inserted
        return Buffer.concat([
          b.subarray(0, pos),
          Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256))),
          b.subarray(pos),
        ]);
      case 6: // bytes removed
        return Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(b.length, pos + 1 + int(8)))]);
      default: // a run of random bytes overwritten
        for (let i = pos; i < Math.min(b.length, pos + 1 + int(16)); i++) b[i] = int(256);
        return b;
    }
  };
}
