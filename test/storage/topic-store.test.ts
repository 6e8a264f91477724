import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  InvalidConfigError,
  KafkaStorageError,
  TopicAlreadyExistsError,
  UnknownTopicError,
} from '../../src/storage/errors.ts';
import { FaultyFs } from '../../src/storage/faulty-fs.ts';
import { nodeFs } from '../../src/storage/fs.ts';
import { TopicStore } from '../../src/storage/topic-store.ts';
import { tempDir } from './helpers.ts';

let dataDir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ path: dataDir, cleanup } = await tempDir());
});

afterEach(() => cleanup());

describe('TopicStore', () => {
  it('persists topics with ids, partition counts and configs across reloads', async () => {
    const store = await TopicStore.open({ dataDir });
    const orders = await store.create({ name: 'orders', partitionCount: 3, configs: { 'retention.ms': '1000' } });
    await store.create({ name: 'payments', partitionCount: 1 });
    assert.match(orders.topicId, /^[0-9a-f-]{36}$/);

    const reloaded = await TopicStore.open({ dataDir });
    assert.deepEqual(reloaded.get('orders'), orders);
    assert.equal(reloaded.getById(orders.topicId)?.name, 'orders');
    assert.deepEqual(
      reloaded
        .list()
        .map((t) => t.name)
        .sort(),
      ['orders', 'payments'],
    );

    await reloaded.update('orders', { partitionCount: 5, configs: { 'cleanup.policy': 'compact' } });
    await reloaded.delete('payments');
    const third = await TopicStore.open({ dataDir });
    assert.deepEqual(third.get('orders'), { ...orders, partitionCount: 5, configs: { 'cleanup.policy': 'compact' } });
    assert.equal(third.get('payments'), undefined);
  });

  it('refuses duplicates, unknown topics, shrinking and invalid configs without changing anything', async () => {
    const store = await TopicStore.open({ dataDir });
    await store.create({ name: 'orders', partitionCount: 2 });
    const before = await readFile(join(dataDir, 'topics.json'), 'utf8');
    await assert.rejects(store.create({ name: 'orders', partitionCount: 1 }), TopicAlreadyExistsError);
    await assert.rejects(store.update('nope', { partitionCount: 3 }), UnknownTopicError);
    await assert.rejects(store.update('orders', { partitionCount: 1 }), InvalidConfigError);
    await assert.rejects(
      store.create({ name: 'bad', partitionCount: 1, configs: { 'retention.ms': 'forever' } }),
      InvalidConfigError,
    );
    await assert.rejects(store.create({ name: 'bad/name', partitionCount: 1 }), InvalidConfigError);
    assert.equal(await readFile(join(dataDir, 'topics.json'), 'utf8'), before);
    assert.deepEqual(
      store.list().map((t) => t.name),
      ['orders'],
    );
  });

  it('keeps the old state in memory and on disk when the write fails, and ignores a stale temp file', async () => {
    const fs = new FaultyFs(nodeFs);
    const store = await TopicStore.open({ dataDir, fs });
    await store.create({ name: 'orders', partitionCount: 1 });
    fs.inject({ op: 'datasync', errno: 'ENOSPC' });
    await assert.rejects(store.create({ name: 'payments', partitionCount: 1 }), KafkaStorageError);
    assert.equal(store.get('payments'), undefined);
    await writeFile(join(dataDir, 'topics.json.tmp'), '{"half":');
    const reloaded = await TopicStore.open({ dataDir });
    assert.deepEqual(
      reloaded.list().map((t) => t.name),
      ['orders'],
    );
    await store.create({ name: 'payments', partitionCount: 1 });
    assert.equal((await TopicStore.open({ dataDir })).list().length, 2);
  });

  it('serializes concurrent changes', async () => {
    const store = await TopicStore.open({ dataDir });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.create({ name: `t${i}`, partitionCount: 1 })));
    assert.equal((await TopicStore.open({ dataDir })).list().length, 20);
  });
});
