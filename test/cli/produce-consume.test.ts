import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { Admin, Producer } from '../../src/client/index.ts';
import { cli, fails, json, lines, ok, spawnCli } from './helpers.ts';

const TIMEOUT = 120_000;

interface JsonRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: string;
  key: string | null;
  value: string | null;
  headers: Array<{ key: string; value: string | null }>;
}

const ndjson = (text: string) => lines(text).map((l) => JSON.parse(l) as JsonRecord);

describe('tributary produce and consume', { timeout: 600_000 }, () => {
  let broker: StartedBroker;
  let b: string[];
  let dir: string;
  let admin: Admin;
  /** Topics come from the admin client here; tributary topic create has its own tests. */
  const createTopic = (name: string, partitions: number) => admin.createTopic(name, { partitions });
  before(async () => {
    broker = await startBroker({ config: { 'auto.create.topics.enable': false } });
    b = ['--brokers', broker.bootstrap];
    dir = await mkdtemp(join(tmpdir(), 'tributary-cli-'));
    admin = new Admin({ bootstrap: broker.bootstrap });
  });
  after(async () => {
    await admin.close();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('lines from stdin with keys and headers; consume prints them in kcat formats and as JSON', {
    timeout: TIMEOUT,
  }, async () => {
    await createTopic('lines', 1);
    const input = 'k1::v1\nno key here\nk3::a::b\n::empty key\nk5::\n';
    const produced = await ok(
      ['produce', 'lines', '-K', '::', '-H', 'source=cli', '-H', 'flag', '-H', 'source=again', ...b],
      {
        input,
      },
    );
    assert.equal(produced.stdout, '');
    assert.match(produced.stderr, /^Produced 5 records \(\d+ B\) to "lines" in \d+\.\d\d s/);
    assert.ok(!produced.stderr.includes('\x1b'), 'no progress bar on a pipe');

    const plain = await ok(['consume', 'lines', '-e', ...b]);
    assert.equal(plain.stdout, 'v1\nno key here\na::b\nempty key\n\n', 'the default format is %v\\n');

    const formatted = await ok(['consume', 'lines', '-e', '-f', '%t:%p:%o %k=%v %K/%S [%h]\\n', ...b]);
    assert.deepEqual(lines(formatted.stdout), [
      'lines:0:0 k1=v1 2/2 [source=cli,flag=NULL,source=again]',
      'lines:0:1 =no key here -1/11 [source=cli,flag=NULL,source=again]',
      'lines:0:2 k3=a::b 2/4 [source=cli,flag=NULL,source=again]',
      'lines:0:3 =empty key 0/9 [source=cli,flag=NULL,source=again]',
      'lines:0:4 k5= 2/0 [source=cli,flag=NULL,source=again]',
    ]);

    const records = ndjson((await ok(['consume', 'lines', '-e', '--json', ...b])).stdout);
    assert.equal(records.length, 5);
    assert.deepEqual(
      records.map((r) => [r.offset, r.key, r.value]),
      [
        [0, 'k1', 'v1'],
        [1, null, 'no key here'],
        [2, 'k3', 'a::b'],
        [3, '', 'empty key'],
        [4, 'k5', ''],
      ],
    );
    assert.deepEqual(records[0]!.headers, [
      { key: 'source', value: 'cli' },
      { key: 'flag', value: null },
      { key: 'source', value: 'again' },
    ]);
    assert.equal(records[0]!.timestampType, 'create-time');
    assert.ok(Math.abs(records[0]!.timestamp - Date.now()) < 60_000);
  });

  test('bytes pass through unchanged, and %T prints the timestamp', { timeout: TIMEOUT }, async () => {
    await createTopic('bytes', 1);
    const line = Buffer.from([0xff, 0xfe, 0x00, 0x09, 0xc3, 0xa9, 0x0d]);
    await ok(['produce', 'bytes', ...b], { input: Buffer.concat([line, Buffer.from('\n'), Buffer.from('last')]) });
    const { stdoutBytes } = await ok(['consume', 'bytes', '-e', '-f', '%v|', ...b]);
    assert.deepEqual(stdoutBytes, Buffer.concat([line, Buffer.from('|last|')]));
    const stamps = lines((await ok(['consume', 'bytes', '-e', '-f', '%T\\n', ...b])).stdout).map(Number);
    assert.equal(stamps.length, 2);
    assert.ok(stamps.every((t) => Math.abs(t - Date.now()) < 60_000));
  });

  test('--file with -p, -z and --acks; --json prints a summary with counts per partition', {
    timeout: TIMEOUT,
  }, async () => {
    await createTopic('filed', 3);
    const file = join(dir, 'records.txt');
    const want = Array.from({ length: 2_000 }, (_, i) => `key-${i % 7}:value ${i}`);
    await writeFile(file, `${want.join('\n')}\n`);
    const { stdout, stderr } = await ok([
      'produce',
      'filed',
      '--file',
      file,
      '-K',
      ':',
      '-z',
      'zstd',
      '-p',
      '2',
      '--acks',
      '1',
      '--json',
      ...b,
    ]);
    const summary = JSON.parse(stdout);
    assert.equal(summary.topic, 'filed');
    assert.equal(summary.records, 2_000);
    assert.equal(
      summary.bytes,
      want.reduce((n, l) => n + l.length - 1, 0),
    );
    assert.deepEqual(summary.partitions, { 2: 2_000 });
    assert.ok(summary.durationMs >= 0);
    assert.match(stderr, /^Produced 2,000 records/);
    assert.ok(!stderr.includes('\x1b'), 'no progress bar when stderr is not a terminal');

    const read = lines((await ok(['consume', 'filed', '-p', '2', '-e', '-f', '%k:%v\\n', ...b])).stdout);
    assert.deepEqual(read, want);

    // By key: the same key always lands on the same partition.
    await ok(['produce', 'filed', '-K', ':', '--acks', '0', ...b], { input: 'same:1\nsame:2\nsame:3\n' });
    const spread = ndjson((await ok(['consume', 'filed', '-e', '--json', ...b])).stdout).filter(
      (r) => r.key === 'same',
    );
    assert.equal(spread.length, 3);
    assert.equal(new Set(spread.map((r) => r.partition)).size, 1);
  });

  test('--rate spaces records out', { timeout: TIMEOUT }, async () => {
    await createTopic('paced', 1);
    const input = Array.from({ length: 11 }, (_, i) => `r${i}\n`).join('');
    const summary = JSON.parse((await ok(['produce', 'paced', '--rate', '50/s', '--json', ...b], { input })).stdout);
    assert.equal(summary.records, 11);
    // The 11th record may go 10 intervals of 20 ms after the first.
    assert.ok(summary.durationMs >= 190, `took ${summary.durationMs} ms`);
  });

  test('produce errors: unknown topic, partition or codec, a missing file, bad options', {
    timeout: TIMEOUT,
  }, async () => {
    await createTopic('small', 2);
    const absent = join(dir, 'absent.txt');
    const checks: Array<[string[], 1 | 2, string | RegExp, string?]> = [
      [['produce', 'nowhere'], 1, 'Cannot produce to topic "nowhere": topic does not exist', 'x\n'],
      [
        ['produce', 'small', '-p', '5'],
        1,
        'Cannot produce to topic "small": it has 2 partitions, so no partition 5',
        'x\n',
      ],
      [['produce', 'small', '--file', absent], 1, /^Cannot read ".*absent\.txt": ENOENT/],
      [
        ['produce', 'small', '-z', 'brotli'],
        2,
        'Invalid compression "brotli": expected none, gzip, snappy, lz4, zstd (see "tributary produce --help")',
      ],
      [['produce', 'small', '--acks', '2'], 2, /^Invalid --acks "2"/],
      [['produce', 'small', '--rate', 'fast'], 2, /^Invalid --rate "fast"/],
      [['produce'], 2, /^Missing topic for "produce"/],
      [['produce', 'small', '-H', '=v'], 2, /^Invalid header "=v": the key is empty/],
    ];
    await Promise.all(
      checks.map(async ([args, code, message, input]) => {
        const line = await fails([...args, ...b], code, { input });
        if (typeof message === 'string') assert.equal(line, message);
        else assert.match(line, message);
      }),
    );
  });

  test('consume -o: start, end, an offset, a timestamp; -n stops after n records', { timeout: TIMEOUT }, async () => {
    await createTopic('positions', 1);
    await ok(['produce', 'positions', ...b], { input: 'a\nb\nc\n' });
    const [, , third] = ndjson((await ok(['consume', 'positions', '-e', '--json', ...b])).stdout);
    await new Promise((r) => setTimeout(r, 20));
    await ok(['produce', 'positions', ...b], { input: 'd\ne\n' });
    const fourthAt = ndjson((await ok(['consume', 'positions', '-o', '3', '-n', '1', '--json', ...b])).stdout)[0]!;
    assert.equal(fourthAt.value, 'd');
    assert.ok(fourthAt.timestamp > third!.timestamp);

    const read = async (...args: string[]) => (await ok(['consume', 'positions', ...args, ...b])).stdout;
    assert.equal(await read('-o', 'start', '-n', '4'), 'a\nb\nc\nd\n');
    assert.equal(await read('-o', '3', '-e'), 'd\ne\n');
    assert.equal(await read('-o', `@${fourthAt.timestamp}`, '-e'), 'd\ne\n');
    assert.equal(await read('-o', `@${fourthAt.timestamp + 600_000}`, '-e'), '', 'after every record: the end');
    assert.equal(await read('-o', 'end', '-e'), '');
  });

  test('consume reads every partition of several topics; -p picks partitions', { timeout: TIMEOUT }, async () => {
    await createTopic('multi-a', 3);
    await createTopic('multi-b', 1);
    await Promise.all([
      ...[0, 1, 2].map((p) => ok(['produce', 'multi-a', '-p', String(p), ...b], { input: `a${p}\n` })),
      ok(['produce', 'multi-b', ...b], { input: 'b0\n' }),
    ]);
    const all = lines((await ok(['consume', 'multi-a', 'multi-b', '-e', '-f', '%t/%p/%v\\n', ...b])).stdout).sort();
    assert.deepEqual(all, ['multi-a/0/a0', 'multi-a/1/a1', 'multi-a/2/a2', 'multi-b/0/b0']);
    const some = lines((await ok(['consume', 'multi-a', '-p', '0', '-p', '2', '-e', ...b])).stdout).sort();
    assert.deepEqual(some, ['a0', 'a2']);
  });

  test('--read-committed skips aborted transactions and -e still finds the end', { timeout: TIMEOUT }, async () => {
    await createTopic('txn', 1);
    const producer = new Producer({ bootstrap: broker.bootstrap, transactionalId: 'cli-txn' });
    try {
      await producer.initTransactions();
      await producer.beginTransaction();
      await producer.send({ topic: 'txn', value: 'committed-1' });
      await producer.commitTransaction();
      await producer.beginTransaction();
      await producer.send({ topic: 'txn', value: 'aborted' });
      await producer.abortTransaction();
      await producer.beginTransaction();
      await producer.send({ topic: 'txn', value: 'committed-2' });
      await producer.commitTransaction();
    } finally {
      await producer.close();
    }
    assert.equal((await ok(['consume', 'txn', '-e', '--read-committed', ...b])).stdout, 'committed-1\ncommitted-2\n');
    assert.equal((await ok(['consume', 'txn', '-e', ...b])).stdout, 'committed-1\naborted\ncommitted-2\n');
  });

  test('consume stops quietly when its reader goes away', { timeout: TIMEOUT }, async () => {
    await createTopic('piped', 1);
    await ok(['produce', 'piped', ...b], { input: `${'x'.repeat(1000)}\n`.repeat(2_000) });
    const child = spawnCli(['consume', 'piped', ...b]);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.stdout!.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, stderr);
  });

  test('consume errors: unknown topic or partition, bad positions and formats', { timeout: TIMEOUT }, async () => {
    await createTopic('present', 1);
    const checks: Array<[string[], 1 | 2, string | RegExp]> = [
      [['consume', 'absent', '-e'], 1, 'Cannot consume from topic "absent": topic does not exist'],
      [
        ['consume', 'present', '-p', '3', '-e'],
        1,
        'Cannot consume from topic "present": topic "present" has 1 partition, so no partition 3',
      ],
      [['consume', 'present', '-o', 'yesterday'], 2, /^Invalid --offset "yesterday"/],
      [['consume', 'present', '-f', '%Z'], 2, /^Invalid format "%Z": unknown field "%Z"/],
      [['consume', 'present', '-g', 'g', '-o', '5'], 2, /^With -g the group's committed offsets decide/],
      [['consume', 'present', '-g', 'g', '-p', '0'], 2, /^-p cannot be used with -g/],
      [['consume', 'present', '-n', '0'], 2, /^Invalid count "0"/],
      [['consume'], 2, /^Missing topic for "consume"/],
    ];
    await Promise.all(
      checks.map(async ([args, code, message]) => {
        const line = await fails([...args, ...b], code);
        if (typeof message === 'string') assert.equal(line, message);
        else assert.match(line, message);
      }),
    );
  });

  test('a 20,000-line file with a progress bar off the terminal, read back in order per partition', {
    timeout: TIMEOUT,
  }, async () => {
    await createTopic('bulk', 4);
    const file = join(dir, 'bulk.txt');
    const want = Array.from({ length: 20_000 }, (_, i) => `k${i}\t${'v'.repeat(i % 50)}${i}`);
    await writeFile(file, `${want.join('\n')}\n`);
    const { stderr } = await ok(['produce', 'bulk', '--file', file, '-K', '\t', '-z', 'lz4', ...b]);
    assert.match(stderr, /^Produced 20,000 records/);
    const plain = await ok(['consume', 'bulk', '-e', '-f', '%k\\n', ...b]);
    assert.equal(lines(plain.stdout).length, 20_000);
    assert.equal(plain.stderr, '', 'no progress bar when stderr is not a terminal');
    const got = ndjson((await ok(['consume', 'bulk', '-e', '--json', ...b])).stdout);
    assert.equal(got.length, 20_000);
    assert.deepEqual(got.map((r) => `${r.key}\t${r.value}`).sort(), [...want].sort());
    for (const p of [0, 1, 2, 3]) {
      const offsets = got.filter((r) => r.partition === p).map((r) => r.offset);
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => i),
        `partition ${p} in order`,
      );
    }
  });

  test('produce takes its brokers from TRIBUTARY_BROKERS too', { timeout: TIMEOUT }, async () => {
    await createTopic('env', 1);
    await ok(['produce', 'env'], { input: 'from env\n', env: { TRIBUTARY_BROKERS: broker.bootstrap } });
    assert.equal(
      (await ok(['consume', 'env', '-e'], { env: { TRIBUTARY_BROKERS: broker.bootstrap } })).stdout,
      'from env\n',
    );
    const result = await cli(['consume', 'env', '-e', '--json', ...b]);
    assert.equal(ndjson(result.stdout)[0]!.value, 'from env');
    assert.deepEqual(await json(['topic', 'describe', 'env', ...b]).then((t) => t.partitions[0].logEndOffset), 1);
  });
});
