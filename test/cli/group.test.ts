import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { Admin, Producer } from '../../src/client/index.ts';
import { eventually, fails, json, lines, ok, rows, spawnCli } from './helpers.ts';

const TIMEOUT = 120_000;

interface Offsets {
  topic: string;
  partition: number;
  committedOffset: number | null;
  endOffset: number | null;
  lag: number | null;
  memberId: string | null;
  clientId: string | null;
}

interface Described {
  groupId: string;
  state: string;
  type: string;
  protocolType: string;
  assignor: string;
  members: Array<{ memberId: string; clientId: string; assignment: Array<{ topic: string; partition: number }> }>;
  offsets: Offsets[];
  totalLag: number;
}

describe('tributary group', { timeout: 600_000 }, () => {
  let broker: StartedBroker;
  let b: string[];
  let admin: Admin;
  let producer: Producer;
  before(async () => {
    broker = await startBroker();
    b = ['--brokers', broker.bootstrap];
    admin = new Admin({ bootstrap: broker.bootstrap });
    producer = new Producer({ bootstrap: broker.bootstrap });
  });
  after(async () => {
    await producer.close();
    await admin.close();
    await broker.close();
  });

  /**
   * Writes `count` records to each partition, values `<prefix><partition>-<i>`, round after
   * round, 10 ms apart in their timestamps; returns the timestamps in the order written.
   */
  async function fill(topic: string, partitions: number, count: number, prefix = 'v', from = 0): Promise<number[]> {
    const base = Date.now() - 60_000;
    const stamps: number[] = [];
    for (let i = from; i < from + count; i++) {
      for (let p = 0; p < partitions; p++) {
        const timestamp = base + stamps.length * 10;
        stamps.push(timestamp);
        await producer.send({ topic, partition: p, value: `${prefix}${p}-${i}`, timestamp });
      }
    }
    return stamps;
  }

  const describeGroup = (group: string) => json<Described>(['group', 'describe', group, ...b]);
  const committed = (d: Described) => d.offsets.map((o) => [o.partition, o.committedOffset]);

  test('consume -g commits what it printed: group describe shows lag 0, then the lag of new records', {
    timeout: TIMEOUT,
  }, async () => {
    await admin.createTopic('events', { partitions: 3 });
    await fill('events', 3, 10);
    const first = await ok(['consume', 'events', '-g', 'readers', '-e', ...b]);
    assert.equal(lines(first.stdout).length, 30);

    const d = await describeGroup('readers');
    assert.equal(d.groupId, 'readers');
    assert.equal(d.state, 'Empty');
    assert.equal(d.type, 'consumer');
    assert.deepEqual(d.members, []);
    assert.deepEqual(
      d.offsets.map((o) => [o.topic, o.partition, o.committedOffset, o.endOffset, o.lag]),
      [
        ['events', 0, 10, 10, 0],
        ['events', 1, 10, 10, 0],
        ['events', 2, 10, 10, 0],
      ],
    );
    assert.equal(d.totalLag, 0);

    const text = (await ok(['group', 'describe', 'readers', ...b])).stdout;
    assert.match(text, /^State: +Empty$/m);
    assert.match(text, /^Protocol: +consumer \(KIP-848\)$/m);
    assert.match(text, /^Total lag: +0$/m);
    const [heading, ...table] = rows(text.split('\n\n').at(-1)!);
    assert.deepEqual(heading, ['TOPIC', 'PARTITION', 'COMMITTED-OFFSET', 'END-OFFSET', 'LAG', 'MEMBER-ID']);
    assert.deepEqual(table, [
      ['events', '0', '10', '10', '0', '-'],
      ['events', '1', '10', '10', '0', '-'],
      ['events', '2', '10', '10', '0', '-'],
    ]);

    await fill('events', 1, 4, 'new', 10);
    const lagging = await describeGroup('readers');
    assert.deepEqual(
      lagging.offsets.map((o) => o.lag),
      [4, 0, 0],
    );
    assert.equal(lagging.totalLag, 4);
    const second = await ok(['consume', 'events', '-g', 'readers', '-e', ...b]);
    assert.deepEqual(lines(second.stdout), ['new0-10', 'new0-11', 'new0-12', 'new0-13']);
    assert.equal((await describeGroup('readers')).totalLag, 0);
  });

  test('-n with a group commits exactly the records it printed', { timeout: TIMEOUT }, async () => {
    await admin.createTopic('counted', { partitions: 1 });
    await fill('counted', 1, 10);
    assert.deepEqual(lines((await ok(['consume', 'counted', '-g', 'counters', '-n', '4', ...b])).stdout), [
      'v0-0',
      'v0-1',
      'v0-2',
      'v0-3',
    ]);
    assert.deepEqual(committed(await describeGroup('counters')), [[0, 4]]);
    assert.deepEqual(lines((await ok(['consume', 'counted', '-g', 'counters', '-n', '3', ...b])).stdout), [
      'v0-4',
      'v0-5',
      'v0-6',
    ]);
    const d = await describeGroup('counters');
    assert.deepEqual(committed(d), [[0, 7]]);
    assert.equal(d.totalLag, 3);
  });

  test('reset-offsets: --dry-run changes nothing; without it the next consume starts there', {
    timeout: TIMEOUT,
  }, async () => {
    await admin.createTopic('replay', { partitions: 2 });
    const stamps = await fill('replay', 2, 5);
    await ok(['consume', 'replay', '-g', 'replayers', '-e', ...b]);
    assert.deepEqual(committed(await describeGroup('replayers')), [
      [0, 5],
      [1, 5],
    ]);

    const dry = await ok([
      'group',
      'reset-offsets',
      'replayers',
      '--topic',
      'replay',
      '--to',
      'earliest',
      '--dry-run',
      ...b,
    ]);
    assert.deepEqual(rows(dry.stdout), [
      ['TOPIC', 'PARTITION', 'PREVIOUS-OFFSET', 'NEW-OFFSET'],
      ['replay', '0', '5', '0'],
      ['replay', '1', '5', '0'],
    ]);
    assert.equal(dry.stderr, 'Dry run: no offsets were changed\n');
    const dryJson = await json([
      'group',
      'reset-offsets',
      'replayers',
      '--topic',
      'replay',
      '--to',
      'start',
      '--dry-run',
      ...b,
    ]);
    assert.deepEqual(dryJson, {
      groupId: 'replayers',
      topic: 'replay',
      dryRun: true,
      offsets: [
        { topic: 'replay', partition: 0, previousOffset: 5, offset: 0 },
        { topic: 'replay', partition: 1, previousOffset: 5, offset: 0 },
      ],
    });
    assert.deepEqual(committed(await describeGroup('replayers')), [
      [0, 5],
      [1, 5],
    ]);
    assert.equal((await ok(['consume', 'replay', '-g', 'replayers', '-e', ...b])).stdout, '', 'still at the end');

    const reset = await json(['group', 'reset-offsets', 'replayers', '-t', 'replay', '--to', 'earliest', ...b]);
    assert.equal(reset.dryRun, false);
    assert.deepEqual(committed(await describeGroup('replayers')), [
      [0, 0],
      [1, 0],
    ]);
    assert.equal(lines((await ok(['consume', 'replay', '-g', 'replayers', '-e', ...b])).stdout).length, 10);

    await ok(['group', 'reset-offsets', 'replayers', '-t', 'replay', '--to', '3', ...b]);
    assert.deepEqual(lines((await ok(['consume', 'replay', '-g', 'replayers', '-e', ...b])).stdout).sort(), [
      'v0-3',
      'v0-4',
      'v1-3',
      'v1-4',
    ]);

    // A timestamp: the first record at or after it, per partition; here the time of v1-4.
    await ok(['group', 'reset-offsets', 'replayers', '-t', 'replay', '--to', `@${stamps[2 * 4 + 1]}`, ...b]);
    // Partition 0 has no record that late: it moves to its end.
    assert.deepEqual(lines((await ok(['consume', 'replay', '-g', 'replayers', '-e', ...b])).stdout), ['v1-4']);

    const clamped = await json(['group', 'reset-offsets', 'replayers', '-t', 'replay', '--to', '99', ...b]);
    assert.deepEqual(
      clamped.offsets.map((o: { offset: number }) => o.offset),
      [5, 5],
      'offsets past the end are clamped to it',
    );

    const one = await json([
      'group',
      'reset-offsets',
      'replayers',
      '-t',
      'replay',
      '--to',
      'earliest',
      '-p',
      '1',
      ...b,
    ]);
    assert.deepEqual(one.offsets, [{ topic: 'replay', partition: 1, previousOffset: 5, offset: 0 }]);
    assert.deepEqual(committed(await describeGroup('replayers')), [
      [0, 5],
      [1, 0],
    ]);
    await ok(['group', 'reset-offsets', 'replayers', '-t', 'replay', '--to', 'latest', ...b]);
    assert.equal((await describeGroup('replayers')).totalLag, 0);
  });

  test('a group with an active member: describe shows it; reset-offsets and delete refuse until it leaves', {
    timeout: TIMEOUT,
  }, async (t) => {
    await admin.createTopic('live', { partitions: 2 });
    await fill('live', 2, 3);
    const child = spawnCli(['consume', 'live', '-g', 'live-group', '-f', '%p:%v\\n', ...b]);
    t.after(() => child.kill('SIGKILL'));
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    // Up and reading, and its first commit (about a second after it starts) is in.
    await eventually('the member to read and commit everything', async () => {
      const [g] = await admin.describeGroups(['live-group']);
      const offsets = await admin.listGroupOffsets('live-group');
      return g!.members.length === 1 && offsets.length === 2 && offsets.every((o) => o.offset === 3n);
    });
    assert.equal(lines(stdout).length, 6);

    const d = await describeGroup('live-group');
    assert.equal(d.state, 'Stable');
    assert.equal(d.members.length, 1);
    assert.equal(d.members[0]!.clientId, 'tributary-cli');
    assert.deepEqual(d.members[0]!.assignment.map((a) => a.partition).sort(), [0, 1]);
    assert.ok(d.offsets.every((o) => o.memberId === d.members[0]!.memberId && o.lag === 0));
    const text = (await ok(['group', 'describe', 'live-group', ...b])).stdout;
    assert.deepEqual(rows(text.split('\n\n')[1]!), [
      ['MEMBER-ID', 'CLIENT-ID', 'HOST', 'ASSIGNMENT'],
      [d.members[0]!.memberId, 'tributary-cli', rows(text.split('\n\n')[1]!)[1]![2]!, 'live: 0,1'],
    ]);

    assert.equal(
      await fails(['group', 'reset-offsets', 'live-group', '--topic', 'live', '--to', 'earliest', ...b], 1),
      'Cannot reset offsets of group "live-group": the group is Stable with 1 active member; stop its consumers first',
    );
    assert.equal(
      await fails(['group', 'delete', 'live-group', ...b], 1),
      'Cannot delete group "live-group": the group has active members',
    );

    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    const left = await describeGroup('live-group');
    assert.equal(left.state, 'Empty');
    assert.deepEqual(committed(left), [
      [0, 3],
      [1, 3],
    ]);
    await ok(['group', 'reset-offsets', 'live-group', '--topic', 'live', '--to', 'earliest', ...b]);
    assert.equal((await ok(['group', 'delete', 'live-group', ...b])).stdout, 'Deleted group "live-group"\n');
    assert.equal(
      await fails(['group', 'describe', 'live-group', ...b], 1),
      'Cannot describe group "live-group": group does not exist',
    );
  });

  test('the classic protocol, and group list as a table and JSON', { timeout: TIMEOUT }, async () => {
    await admin.createTopic('classic', { partitions: 1 });
    await fill('classic', 1, 2);
    const { stdout } = await ok(['consume', 'classic', '-g', 'old-school', '--group-protocol', 'classic', '-e', ...b]);
    assert.deepEqual(lines(stdout), ['v0-0', 'v0-1']);
    const d = await describeGroup('old-school');
    assert.equal(d.type, 'classic');
    assert.equal(d.protocolType, 'consumer');
    assert.deepEqual(committed(d), [[0, 2]]);
    assert.match((await ok(['group', 'describe', 'old-school', ...b])).stdout, /^Protocol: +classic \(consumer\)$/m);

    const listed = await json<Array<{ groupId: string; state: string; type: string }>>(['group', 'list', ...b]);
    assert.deepEqual(
      listed.find((g) => g.groupId === 'old-school'),
      { groupId: 'old-school', protocolType: 'consumer', state: 'Empty', type: 'classic' },
    );
    const table = rows((await ok(['group', 'list', ...b])).stdout);
    assert.deepEqual(table[0], ['GROUP', 'STATE', 'TYPE', 'PROTOCOL-TYPE']);
    assert.deepEqual(
      table.find((r) => r[0] === 'old-school'),
      ['old-school', 'Empty', 'classic', 'consumer'],
    );
    assert.deepEqual(await json(['group', 'delete', 'old-school', ...b]), { groupId: 'old-school', deleted: true });
    const after = await json<Array<{ groupId: string }>>(['group', 'list', ...b]);
    assert.ok(!after.some((g) => g.groupId === 'old-school'));
  });

  test('group errors: unknown groups and topics, bad positions, missing options', { timeout: TIMEOUT }, async () => {
    const checks: Array<[string[], 1 | 2, string | RegExp]> = [
      [['group', 'describe', 'nobody'], 1, 'Cannot describe group "nobody": group does not exist'],
      [['group', 'delete', 'nobody'], 1, 'Cannot delete group "nobody": group does not exist'],
      [
        ['group', 'reset-offsets', 'nobody', '--topic', 'no-topic', '--to', 'earliest'],
        1,
        'Cannot reset offsets of group "nobody": topic "no-topic" does not exist',
      ],
      [['group', 'reset-offsets', 'nobody', '--to', 'earliest'], 2, /^Missing --topic <topic>/],
      [['group', 'reset-offsets', 'nobody', '--topic', 't'], 2, /^Missing --to <position>/],
      [['group', 'reset-offsets', 'nobody', '--topic', 't', '--to', 'soon'], 2, /^Invalid --to "soon"/],
      [['group', 'describe'], 2, 'Missing group id for "group describe" (see "tributary group describe --help")'],
    ];
    await Promise.all(
      checks.map(async ([args, code, message]) => {
        const line = await fails([...args, ...b], code);
        if (typeof message === 'string') assert.equal(line, message);
        else assert.match(line, message);
      }),
    );
  });
});
