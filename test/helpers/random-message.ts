import { randomBytes } from 'node:crypto';
import { type FieldSchema, inRange, type MessageSchema, type TaggedField } from '../../src/protocol/codec.ts';

/** A small seeded PRNG so that failures can be replayed from the seed in the test name. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

interface Gen {
  rand: () => number;
  version: number;
  flexible: boolean;
  depth: number;
}

function int(g: Gen, min: number, max: number): number {
  return min + Math.floor(g.rand() * (max - min + 1));
}

function bytes(g: Gen, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(g, 0, 255);
  return b;
}

const ALPHABET = ['a', 'Z', '0', '-', '.', '_', ' ', 'é', '€', '日', '🙂'];

function primitive(g: Gen, type: string): unknown {
  // Edges first: each primitive hits its boundaries often.
  const edge = g.rand() < 0.3;
  switch (type) {
    case 'bool':
      return g.rand() < 0.5;
    case 'int8':
      return edge ? [-128, 127, 0, -1][int(g, 0, 3)] : int(g, -128, 127);
    case 'int16':
      return edge ? [-32768, 32767, 0, -1][int(g, 0, 3)] : int(g, -32768, 32767);
    case 'uint16':
      return edge ? [0, 65535][int(g, 0, 1)] : int(g, 0, 65535);
    case 'int32':
      return edge ? [-2147483648, 2147483647, 0, -1][int(g, 0, 3)] : int(g, -2147483648, 2147483647);
    case 'uint32':
      return edge ? [0, 4294967295][int(g, 0, 1)] : int(g, 0, 4294967295);
    case 'int64':
      return edge ? [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n][int(g, 0, 3)] : bytes(g, 8).readBigInt64BE(0);
    case 'float64':
      return edge
        ? [0, -0, Number.MAX_VALUE, Number.MIN_VALUE, Number.POSITIVE_INFINITY][int(g, 0, 4)]
        : g.rand() * 1e6;
    case 'string': {
      let s = '';
      for (let i = int(g, 0, 12); i > 0; i--) s += ALPHABET[int(g, 0, ALPHABET.length - 1)];
      return s;
    }
    case 'bytes':
    case 'records':
      return bytes(g, int(g, 0, 24));
    case 'uuid':
      return randomBytes(16).toString('base64url');
    default:
      throw new Error(`Not a primitive: ${type}`);
  }
}

function value(g: Gen, f: FieldSchema): unknown {
  if (f.nullable && inRange(f.nullable, g.version) && g.rand() < 0.2) return null;
  const isArray = f.type.startsWith('[]');
  const base = isArray ? f.type.slice(2) : f.type;
  const one = (): unknown => (f.fields ? struct(g, f.fields) : primitive(g, base));
  if (!isArray) return one();
  if (g.depth > 3) return [];
  g.depth++;
  const out = Array.from({ length: int(g, 0, 3) }, one);
  g.depth--;
  return out;
}

function struct(g: Gen, fields: readonly FieldSchema[]): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  for (const f of fields) m[f.name] = inRange(f.versions, g.version) ? value(g, f) : f.default;
  if (g.flexible && g.rand() < 0.2) {
    // Tags far above any the schemas use, in increasing order as they are written.
    const unknown: TaggedField[] = [];
    let tag = 1000 + int(g, 0, 10);
    for (let i = int(g, 1, 3); i > 0; i--) {
      unknown.push({ tag, data: bytes(g, int(g, 0, 8)) });
      tag += int(g, 1, 100);
    }
    m.unknownTaggedFields = unknown;
  }
  return m;
}

/** A random message valid in the version: absent fields hold their defaults. */
export function randomMessage(schema: MessageSchema, version: number, seed: number): Record<string, unknown> {
  const g: Gen = { rand: prng(seed), version, flexible: inRange(schema.flexibleVersions, version), depth: 0 };
  return struct(g, schema.fields);
}

/** Every valid version of a schema. */
export function versionsOf(schema: MessageSchema): number[] {
  const out: number[] = [];
  for (let v = schema.validVersions.min; v <= schema.validVersions.max; v++) out.push(v);
  return out;
}
