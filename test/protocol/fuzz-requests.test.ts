import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_DEFINITIONS } from '../../src/protocol/generated/api-codecs.ts';
import { fuzzCodec } from '../helpers/fuzz-decode.ts';

// Throwing is most of the cost of a rejected frame; stack traces are not needed here.
Error.stackTraceLimit = 0;

// 100k mutated frames per API: half requests (this file), half responses (its twin).
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 50_000);

test('mutated requests of every API decode to a value or a DecodeError', () => {
  for (const api of API_DEFINITIONS) {
    const result = fuzzCodec(api.request, FRAMES, api.apiKey + 1);
    assert.equal(result.frames, FRAMES);
    assert.ok(result.rejected > 0, `${api.name}: no mutation was rejected`);
  }
});
