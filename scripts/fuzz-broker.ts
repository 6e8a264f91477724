// Long fuzz of a live broker: mutated and random request frames of every served API, over
// many connections, while a well-behaved client checks it keeps being served and RSS is
// sampled. Usage: npm run fuzz:broker [-- --frames <n, default 1000000>] [--write]

import { machine, writeSection } from '../bench/report.ts';
import { startBroker } from '../src/broker/start-broker.ts';
import { API_BY_KEY } from '../src/protocol/generated/api-codecs.ts';
import { ApiVersionsRequest, ApiVersionsResponse } from '../src/protocol/generated/messages/api-versions.ts';
import { mutator } from '../test/helpers/mutate.ts';
import { randomMessage } from '../test/helpers/random-message.ts';
import { RawClient, requestFrame } from '../test/helpers/raw-client.ts';

const argv = process.argv.slice(2);
const total = argv.includes('--frames') ? Number(argv[argv.indexOf('--frames') + 1]) : 1_000_000;
const ApiVersions = { request: ApiVersionsRequest, response: ApiVersionsResponse };
const hello = { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' };

const broker = await startBroker({
  config: {
    'socket.request.max.bytes': 1024 * 1024,
    'group.initial.rebalance.delay.ms': 0,
    'request.timeout.ms': 2000,
  },
});
const observer = await RawClient.connect(broker.port);
const served = (await observer.request(ApiVersions, 3, hello)).body.apiKeys;
const mutate = mutator(Date.now() % 100_000);
const started = performance.now();
const rssStart = process.memoryUsage().rss;
let rssMax = rssStart;
let sent = 0;
let checks = 0;
const CHUNK = 10;
for (let round = 0; sent < total; round++) {
  const { apiKey, minVersion, maxVersion } = served[round % served.length]!;
  const codec = API_BY_KEY.get(apiKey)!.request;
  const client = await RawClient.connect(broker.port);
  const frames: Buffer[] = [];
  for (let i = 0; i < CHUNK; i++) {
    const version = minVersion + ((round + i) % (maxVersion - minVersion + 1));
    const message = randomMessage(codec.schema, version, round * CHUNK + i);
    for (const key of ['maxWaitMs', 'timeoutMs', 'sessionTimeoutMs', 'rebalanceTimeoutMs']) {
      if (typeof message[key] === 'number') message[key] = (message[key] as number) & 0xff;
    }
    const valid = requestFrame(apiKey, version, codec.encode(message, version), i);
    // A mutated frame usually ends its connection, so each connection carries valid
    // requests with random content first and one mutated frame last.
    frames.push(i === CHUNK - 1 ? mutate(valid) : valid);
  }
  client.write(Buffer.concat(frames));
  sent += frames.length;
  if (round % 50 === 0) {
    const { body } = await observer.request(ApiVersions, 3, hello);
    if (body.errorCode !== 0) throw new Error('The broker stopped serving a well-behaved client');
    checks++;
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
  }
  // Let the broker work through what it was sent before more comes.
  await Promise.race([client.waitClosed(50).catch(() => {}), new Promise((resolve) => setTimeout(resolve, 20))]);
  client.close();
  if (round % 5000 === 0) process.stderr.write(`${sent} frames, RSS ${(rssMax / 2 ** 20).toFixed(0)} MiB\n`);
}
const seconds = (performance.now() - started) / 1000;
observer.close();
await broker.close();
const summary = `## Live broker fuzz

Command: \`npm run fuzz:broker -- --frames ${total}\`. Machine: ${machine()}.

${sent} request frames over ${Math.ceil(sent / CHUNK)} connections: on each, ${CHUNK - 1} valid requests with random
content, then one mutated frame (bit flips, truncation, lying lengths, endless varints, inserted
and removed bytes), across all ${served.length} served APIs and their versions, in ${seconds.toFixed(0)} s.
The broker stayed up and answered a well-behaved client ${checks} times throughout. Process RSS (broker and
load generator together): ${(rssStart / 2 ** 20).toFixed(0)} MiB at the start, ${(rssMax / 2 ** 20).toFixed(0)} MiB at most.
`;
console.log(summary);
if (argv.includes('--write')) writeSection('live-fuzz', summary, 'RELIABILITY.md');
