import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import {
  readRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  writeRequestHeader,
} from '../../src/protocol/headers.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';

test('header versions follow the flexible versions of each API', () => {
  assert.equal(requestHeaderVersion(ApiKey.Produce, 8), 1);
  assert.equal(requestHeaderVersion(ApiKey.Produce, 9), 2);
  assert.equal(requestHeaderVersion(ApiKey.ControlledShutdown, 0), 0);
  assert.equal(responseHeaderVersion(ApiKey.Metadata, 9), 1);
  assert.equal(responseHeaderVersion(ApiKey.Metadata, 8), 0);
  // ApiVersions responses use header v0 in every version, so any client can read them.
  assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 3), 0);
});

test('a flexible request header keeps the int16-length client id and adds a tag section', () => {
  const w = new Writer();
  writeRequestHeader(w, { requestApiKey: ApiKey.Metadata, requestApiVersion: 12, correlationId: 7, clientId: 'ab' });
  assert.equal(w.toBuffer().toString('hex'), '0003000c00000007000261620' + '0');
  const header = readRequestHeader(new Reader(w.toBuffer()));
  assert.deepEqual(header, { requestApiKey: 3, requestApiVersion: 12, correlationId: 7, clientId: 'ab' });
});

test('a null client id is written as length −1', () => {
  const w = new Writer();
  writeRequestHeader(w, { requestApiKey: ApiKey.Produce, requestApiVersion: 3, correlationId: 1, clientId: null });
  assert.equal(w.toBuffer().toString('hex'), '000000030000000' + '1ffff');
});
