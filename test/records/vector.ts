/** The uncompressed batch from the README of ../shared/kafka-protocol, written by kafkajs 2.2.4. */
export const README_BATCH_HEX = `
0000000000000000 0000004f 00000000 02 b422882e 0000 00000001
0000018bcfe56800 0000018bcfe56805 0000000000000007 0001 00000000 00000002
22 00 00 00 04 6b31 0a 68656c6c6f 02 02 68 02 78
16 00 0a 02 01 0a 776f726c64 00`;

export function readmeBatch(): Buffer {
  return Buffer.from(README_BATCH_HEX.replace(/\s+/g, ''), 'hex');
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}
