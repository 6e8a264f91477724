import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/generated/messages/metadata.ts';
import { spawnBroker } from '../helpers/broker-process.ts';
import { RawClient } from '../helpers/raw-client.ts';

const Metadata = { request: MetadataRequest, response: MetadataResponse };
const askFor = (name: string) => ({
  topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name }],
  allowAutoTopicCreation: true,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
});

test('tributary start serves clients, logs its address and start-up time, and exits 0 on SIGTERM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const broker = await spawnBroker(['--port', '0', '--data-dir', dir]);
  try {
    assert.match(broker.log(), /listening on 127\.0\.0\.1:\d+ \(started in \d+ ms\)/);
    const client = await RawClient.connect(broker.port);
    const { body } = await client.request(Metadata, 9, askFor('cli-topic'));
    assert.equal(body.topics[0]?.errorCode, 0);
    client.close();
  } finally {
    assert.equal(await broker.stop('SIGTERM'), 0);
  }
  assert.match(broker.log(), /Stopped/);
});

test('tributary start --config reads Kafka-style keys; a restart keeps the cluster id and topics', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'server.properties');
  await writeFile(
    config,
    [
      '# a broker',
      'listeners=PLAINTEXT://127.0.0.1:0',
      `log.dirs=${join(dir, 'data')}`,
      'num.partitions=3',
      'node.id=4',
    ].join('\n'),
  );
  const first = await spawnBroker(['--config', config]);
  let clusterId: string | null;
  try {
    const client = await RawClient.connect(first.port);
    const { body } = await client.request(Metadata, 9, askFor('three'));
    assert.equal(body.topics[0]?.partitions.length, 3);
    assert.equal(body.brokers[0]?.nodeId, 4);
    clusterId = body.clusterId;
    client.close();
  } finally {
    assert.equal(await first.stop('SIGINT'), 0);
  }
  const second = await spawnBroker(['--config', config]);
  try {
    const client = await RawClient.connect(second.port);
    const { body } = await client.request(Metadata, 9, { ...askFor('three'), topics: null });
    assert.equal(body.clusterId, clusterId);
    assert.deepEqual(
      body.topics.map((t) => [t.name, t.partitions.length]),
      [['three', 3]],
    );
    client.close();
  } finally {
    await second.stop();
  }
});
