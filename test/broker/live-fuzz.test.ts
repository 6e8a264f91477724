import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker } from '../../src/broker/start-broker.ts';
import { API_BY_KEY } from '../../src/protocol/generated/api-codecs.ts';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/generated/messages/api-versions.ts';
import { mutator } from '../helpers/mutate.ts';
import { randomMessage } from '../helpers/random-message.ts';
import { RawClient, requestFrame } from '../helpers/raw-client.ts';

const ApiVersions = { request: ApiVersionsRequest, response: ApiVersionsResponse };
const hello = { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' };
const FRAMES_PER_API = Number(process.env.LIVE_FUZZ_FRAMES ?? 300);

test('mutated requests of every served API never take the broker down or stop it serving others', async (t) => {
  const broker = await startBroker({
    config: { 'socket.request.max.bytes': 1024 * 1024, 'group.initial.rebalance.delay.ms': 0 },
  });
  t.after(() => broker.close());
  const observer = await RawClient.connect(broker.port);
  const served = (await observer.request(ApiVersions, 3, hello)).body.apiKeys;
  const mutate = mutator(42);
  let sent = 0;
  for (const { apiKey, minVersion, maxVersion } of served) {
    const codec = API_BY_KEY.get(apiKey)!.request;
    const client = await RawClient.connect(broker.port);
    const frames: Buffer[] = [];
    for (let i = 0; i < FRAMES_PER_API; i++) {
      const version = minVersion + (i % (maxVersion - minVersion + 1));
      // Keep long polls and timeouts short: a random Fetch may otherwise wait for minutes.
      const message = randomMessage(codec.schema, version, apiKey * 100_000 + i);
      for (const key of ['maxWaitMs', 'timeoutMs', 'sessionTimeoutMs', 'rebalanceTimeoutMs']) {
        if (typeof message[key] === 'number') message[key] = (message[key] as number) & 0xff;
      }
      const valid = requestFrame(apiKey, version, codec.encode(message, version), i);
      // Half valid-but-random requests, half broken ones.
      frames.push(i % 2 === 0 ? valid : mutate(valid));
    }
    client.write(Buffer.concat(frames));
    sent += frames.length;
    // Whatever happens to this connection, everybody else is still served.
    const other = await RawClient.connect(broker.port);
    assert.equal((await other.request(ApiVersions, 3, hello)).body.errorCode, 0, `after API ${apiKey}`);
    other.close();
    client.close();
  }
  // Garbage that is not even a frame, and frames split across writes.
  const garbage = await RawClient.connect(broker.port);
  for (let i = 0; i < 50; i++) garbage.write(Buffer.from([0, 0, 0, 8, i, i, i]));
  garbage.close();
  assert.equal((await observer.request(ApiVersions, 3, hello)).body.errorCode, 0);
  assert.ok(sent > 0);
  observer.close();
});
