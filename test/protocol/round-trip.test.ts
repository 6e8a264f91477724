import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MessageCodec } from '../../src/protocol/codec.ts';
import * as generated from '../../src/protocol/generated/index.ts';
import { API_DEFINITIONS } from '../../src/protocol/generated/index.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { randomMessage, versionsOf } from '../helpers/random-message.ts';

const codecs = (Object.values(generated) as unknown[]).filter(
  (x): x is MessageCodec<unknown> => typeof x === 'object' && x !== null && 'schema' in x && 'decode' in x,
);

const ITERATIONS = 25;

describe('generated codecs', () => {
  test('cover all 88 API keys, both headers, the data schemas and the coordinator records', () => {
    assert.equal(API_DEFINITIONS.length, 88);
    assert.deepEqual(
      API_DEFINITIONS.map((a) => a.apiKey),
      [...new Set(API_DEFINITIONS.map((a) => a.apiKey))].sort((a, b) => a - b),
    );
    const types = codecs.map((c) => c.schema.type);
    assert.equal(types.filter((t) => t === 'request').length, 88);
    assert.equal(types.filter((t) => t === 'response').length, 88);
    assert.equal(types.filter((t) => t === 'header').length, 2);
    // 8 data schemas in messages/ and 36 coordinator records
    assert.equal(types.filter((t) => t === 'data').length, 44);
  });

  for (const codec of codecs) {
    test(`${codec.name}: encode → decode → deep equal in every version`, () => {
      for (const version of versionsOf(codec.schema)) {
        for (let i = 0; i < ITERATIONS; i++) {
          const seed = codec.schema.apiKey * 1_000_003 + version * 1009 + i + codec.name.length;
          const message = randomMessage(codec.schema, version, seed);
          const bytes = codec.encode(message, version);
          const reader = new Reader(bytes);
          const decoded = codec.read(reader, version);
          assert.equal(reader.remaining, 0, `${codec.name} v${version} seed ${seed}: trailing bytes`);
          assert.deepStrictEqual(decoded, message, `${codec.name} v${version} seed ${seed}`);
          assert.deepStrictEqual(codec.encode(decoded, version), bytes, `${codec.name} v${version} re-encode`);
        }
      }
    });
  }
});
