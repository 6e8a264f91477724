import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { Producer } from '../../src/client/index.ts';
import { cli, fails, json, lines, ok, rows } from './helpers.ts';

const TIMEOUT = 120_000;

describe('tributary topic and cluster', { timeout: 600_000 }, () => {
  let broker: StartedBroker;
  let b: string[];
  before(async () => {
    broker = await startBroker({ config: { 'num.partitions': 2 } });
    b = ['--brokers', broker.bootstrap];
  });
  after(() => broker.close());

  test('topic create prints a table, or JSON; -c sets configs; defaults come from the broker', {
    timeout: TIMEOUT,
  }, async () => {
    const { stdout } = await ok(['topic', 'create', 'orders', '-p', '3', '-c', 'retention.ms=86400000', ...b]);
    const [heading, row] = rows(stdout);
    assert.deepEqual(heading, ['TOPIC', 'PARTITIONS', 'REPLICATION-FACTOR', 'TOPIC-ID']);
    assert.deepEqual(row!.slice(0, 3), ['orders', '3', '1']);
    assert.match(row![3]!, /^[A-Za-z0-9_-]{22}$/);

    const created = await json(['topic', 'create', 'defaults', ...b]);
    assert.equal(created.name, 'defaults');
    assert.equal(created.partitions, 2, "the broker's num.partitions");
    assert.equal(created.replicationFactor, 1);
  });

  test('topic create: an existing topic, bad counts and bad configs fail in one line', {
    timeout: TIMEOUT,
  }, async () => {
    await ok(['topic', 'create', 'taken', '-p', '1', ...b]);
    assert.equal(
      await fails(['topic', 'create', 'taken', '-p', '1', ...b], 1),
      'Cannot create topic "taken": it already exists',
    );
    assert.equal(
      await fails(['topic', 'create', 'wide', '-r', '3', ...b], 1),
      'Cannot create topic "wide": replication factor 3 exceeds 1 available broker',
    );
    assert.match(
      await fails(['topic', 'create', 'odd', '-c', 'no.such.config=1', ...b], 1),
      /^Cannot create topic "odd": .*"no\.such\.config"/,
    );
    assert.equal(
      await fails(['topic', 'create', ...b], 2),
      'Missing topic name for "topic create" (see "tributary topic create --help")',
    );
    assert.equal(
      await fails(['topic', 'create', 'x', '-p', 'three', ...b], 2),
      'Invalid partition count "three": expected a whole number at least 1 (see "tributary topic create --help")',
    );
    assert.equal(
      await fails(['topic', 'create', 'x', '-c', 'retention.ms', ...b], 2),
      'Invalid config "retention.ms": expected key=value (see "tributary topic create --help")',
    );
    const asJson = await cli(['topic', 'create', 'taken', ...b, '--json']);
    assert.equal(asJson.code, 1);
    assert.deepEqual(JSON.parse(asJson.stderr), {
      error: 'Cannot create topic "taken": it already exists',
      code: 'TOPIC_ALREADY_EXISTS',
    });
  });

  test('topic list and describe, as tables and as JSON', { timeout: TIMEOUT }, async () => {
    await ok(['topic', 'create', 'listed', '-p', '4', '-c', 'cleanup.policy=compact', '-c', 'segment.ms=600000', ...b]);
    const producer = new Producer({ bootstrap: broker.bootstrap });
    try {
      for (let i = 0; i < 5; i++) await producer.send({ topic: 'listed', partition: 1, key: `k${i}`, value: `v${i}` });
    } finally {
      await producer.close();
    }

    const listed = rows((await ok(['topic', 'list', ...b])).stdout);
    assert.deepEqual(listed[0], ['NAME', 'PARTITIONS', 'REPLICAS']);
    assert.deepEqual(
      listed.find((r) => r[0] === 'listed'),
      ['listed', '4', '1'],
    );
    const all = await json<Array<{ name: string; topicId: string; partitions: number; internal: boolean }>>([
      'topic',
      'list',
      ...b,
    ]);
    assert.deepEqual(
      all.find((t) => t.name === 'listed'),
      {
        name: 'listed',
        topicId: all.find((t) => t.name === 'listed')!.topicId,
        partitions: 4,
        replicationFactor: 1,
        internal: false,
      },
    );
    assert.ok(all.every((t) => !t.internal));

    const text = (await ok(['topic', 'describe', 'listed', ...b])).stdout;
    assert.match(text, /^Name: +listed$/m);
    assert.match(text, /^Partitions: +4$/m);
    const table = rows(text.split('\n\n')[1]!);
    assert.deepEqual(table[0], [
      'PARTITION',
      'LEADER',
      'EPOCH',
      'REPLICAS',
      'ISR',
      'LOG-START-OFFSET',
      'LOG-END-OFFSET',
    ]);
    assert.deepEqual(table[2], ['1', '1', '0', '[1]', '[1]', '0', '5']);
    assert.deepEqual(rows(text.split('\n\n')[2]!), [
      ['CONFIG', 'VALUE', 'SOURCE'],
      ['cleanup.policy', 'compact', 'dynamic-topic'],
      ['segment.ms', '600000', 'dynamic-topic'],
    ]);

    const described = await json(['topic', 'describe', 'listed', ...b]);
    assert.equal(described.name, 'listed');
    assert.equal(described.partitions.length, 4);
    assert.deepEqual(described.partitions[1], {
      partition: 1,
      leader: 1,
      leaderEpoch: 0,
      replicas: [1],
      isr: [1],
      offlineReplicas: [],
      logStartOffset: 0,
      logEndOffset: 5,
    });
    assert.deepEqual(described.configs, [
      { name: 'cleanup.policy', value: 'compact', source: 'dynamic-topic' },
      { name: 'segment.ms', value: '600000', source: 'dynamic-topic' },
    ]);

    assert.equal(
      await fails(['topic', 'describe', 'missing', ...b], 1),
      'Cannot describe topic "missing": topic does not exist',
    );
  });

  test('topic alter-config sets and deletes configs; describe shows the result', { timeout: TIMEOUT }, async () => {
    await ok(['topic', 'create', 'tuned', '-p', '1', '-c', 'retention.ms=1000', ...b]);
    const { stdout } = await ok([
      'topic',
      'alter-config',
      'tuned',
      '--set',
      'segment.bytes=1048576',
      '--delete',
      'retention.ms',
      ...b,
    ]);
    assert.deepEqual(rows(stdout), [
      ['CONFIG', 'CHANGE'],
      ['segment.bytes', 'set to "1048576"'],
      ['retention.ms', 'reset to default'],
    ]);
    assert.deepEqual((await json(['topic', 'describe', 'tuned', ...b])).configs, [
      { name: 'segment.bytes', value: '1048576', source: 'dynamic-topic' },
    ]);
    assert.deepEqual(await json(['topic', 'alter-config', 'tuned', '-s', 'retention.ms=5000', ...b]), {
      name: 'tuned',
      set: { 'retention.ms': '5000' },
      deleted: [],
    });
    assert.match(
      await fails(['topic', 'alter-config', 'tuned', '--set', 'bogus=1', ...b], 1),
      /^Cannot alter configs of topic "tuned": "bogus" is not a topic config$/,
    );
    assert.equal(
      await fails(['topic', 'alter-config', 'nowhere', '--set', 'retention.ms=1', ...b], 1),
      'Cannot alter configs of topic "nowhere": it does not exist',
    );
    assert.match(await fails(['topic', 'alter-config', 'tuned', ...b], 2), /^Nothing to change/);
  });

  test('topic add-partitions adds, or grows to a total; it never shrinks', { timeout: TIMEOUT }, async () => {
    await ok(['topic', 'create', 'growing', '-p', '2', ...b]);
    assert.equal(
      (await ok(['topic', 'add-partitions', 'growing', '-p', '3', ...b])).stdout,
      'Topic "growing" now has 5 partitions (was 2)\n',
    );
    assert.deepEqual(await json(['topic', 'add-partitions', 'growing', '--total', '6', ...b]), {
      name: 'growing',
      partitions: 6,
      previousPartitions: 5,
    });
    assert.equal(
      await fails(['topic', 'add-partitions', 'growing', '--total', '4', ...b], 1),
      'Cannot add partitions to topic "growing": it has 6 partitions and Kafka cannot remove partitions (asked for 4)',
    );
    assert.equal(
      await fails(['topic', 'add-partitions', 'absent', '-p', '1', ...b], 1),
      'Cannot add partitions to topic "absent": topic does not exist',
    );
    assert.match(await fails(['topic', 'add-partitions', 'growing', ...b], 2), /^Give either -p/);
  });

  test('topic delete, as text and JSON; deleting twice fails', { timeout: TIMEOUT }, async () => {
    await ok(['topic', 'create', 'doomed', '-p', '1', ...b]);
    await ok(['topic', 'create', 'doomed-too', '-p', '1', ...b]);
    assert.equal((await ok(['topic', 'delete', 'doomed', ...b])).stdout, 'Deleted topic "doomed"\n');
    assert.deepEqual(await json(['topic', 'delete', 'doomed-too', ...b]), { name: 'doomed-too', deleted: true });
    assert.equal(
      await fails(['topic', 'delete', 'doomed', ...b], 1),
      'Cannot delete topic "doomed": it does not exist',
    );
    const names = (await json<Array<{ name: string }>>(['topic', 'list', ...b])).map((t) => t.name);
    assert.ok(!names.includes('doomed') && !names.includes('doomed-too'));
  });

  test('cluster info: id, controller, brokers and topic count', { timeout: TIMEOUT }, async () => {
    const info = await json(['cluster', 'info', ...b]);
    const topics = await json<unknown[]>(['topic', 'list', ...b]);
    assert.match(info.clusterId, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(info.controllerId, 1);
    assert.deepEqual(info.brokers, [{ nodeId: 1, host: '127.0.0.1', port: broker.port, rack: null }]);
    assert.equal(info.topics, topics.length);

    const text = (await ok(['cluster', 'info', ...b])).stdout;
    assert.match(text, new RegExp(`^Cluster ID: +${info.clusterId}$`, 'm'));
    assert.match(text, /^Controller: +1$/m);
    assert.match(text, new RegExp(`^Topics: +${topics.length}`, 'm'));
    assert.deepEqual(rows(text.split('\n\n')[1]!), [
      ['ID', 'HOST', 'PORT', 'RACK', 'CONTROLLER'],
      ['1', '127.0.0.1', String(broker.port), '-', 'yes'],
    ]);
  });

  test('brokers come from --brokers before or after the command, -b, or TRIBUTARY_BROKERS', {
    timeout: TIMEOUT,
  }, async () => {
    const env = { TRIBUTARY_BROKERS: broker.bootstrap };
    const viaEnv = await json(['cluster', 'info'], { env });
    assert.equal(viaEnv.brokers[0].port, broker.port);
    const before = await ok(['--brokers', broker.bootstrap, '--json', 'cluster', 'info']);
    assert.equal(JSON.parse(before.stdout).clusterId, viaEnv.clusterId);
    const short = await json(['cluster', 'info', '-b', broker.bootstrap], {
      env: { TRIBUTARY_BROKERS: '127.0.0.1:1' },
    });
    assert.equal(short.clusterId, viaEnv.clusterId, '-b wins over the environment');
  });

  test('an unreachable cluster fails within --timeout, naming the operation', { timeout: TIMEOUT }, async () => {
    const started = Date.now();
    assert.equal(
      await fails(['topic', 'list', '--brokers', '127.0.0.1:1', '--timeout', '1000'], 1),
      'Cannot list topics: cannot connect to any broker (bootstrap 127.0.0.1:1)',
    );
    assert.ok(Date.now() - started < 20_000);
    assert.equal(
      await fails(['cluster', 'info', '--timeout', '500'], 1, { env: { TRIBUTARY_BROKERS: '127.0.0.1:1' } }),
      'Cannot describe the cluster: cannot connect to any broker (bootstrap 127.0.0.1:1)',
    );
    assert.equal(
      await fails(['topic', 'list', '--brokers', 'host:port'], 2),
      'Invalid --brokers "host:port": Invalid broker address "host:port" (see "tributary topic list --help")',
    );
  });

  test('--help for every command, and usage errors exit 2', { timeout: TIMEOUT }, async () => {
    const commands = [
      ['topic', 'create'],
      ['topic', 'list'],
      ['topic', 'describe'],
      ['topic', 'delete'],
      ['topic', 'alter-config'],
      ['topic', 'add-partitions'],
      ['produce'],
      ['consume'],
      ['group', 'list'],
      ['group', 'describe'],
      ['group', 'reset-offsets'],
      ['group', 'delete'],
      ['cluster', 'info'],
    ];
    await Promise.all(
      commands.map(async (command) => {
        const { stdout } = await ok([...command, '--help']);
        assert.ok(stdout.startsWith(`Usage: tributary ${command.join(' ')}`), stdout);
        assert.match(stdout, /--brokers/);
      }),
    );
    for (const group of ['topic', 'group', 'cluster']) {
      assert.match((await ok([group, '--help'])).stdout, new RegExp(`^Usage: tributary ${group} <command>`));
    }
    assert.match((await ok(['--help'])).stdout, /produce +write lines/);
    assert.match((await ok(['help', 'consume'])).stdout, /^Usage: tributary consume/);
    assert.equal(
      await fails(['topic', 'rename', 'a'], 2),
      'Unknown command "topic rename" (see "tributary topic --help")',
    );
    assert.equal(await fails(['frobnicate'], 2), 'Unknown command "frobnicate" (see "tributary --help")');
    const bare = await cli(['topic']);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^Usage: tributary topic/);
    assert.deepEqual(lines((await ok(['version'])).stdout).length, 1);
  });
});
