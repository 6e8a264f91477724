import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { parse, UsageError } from '../../src/cli/args.ts';
import { compileFormat, type RawRecord } from '../../src/cli/format.ts';
import { readLines, splitKey } from '../../src/cli/lines.ts';
import { failure, table, toJson } from '../../src/cli/output.ts';
import { parsePosition } from '../../src/cli/positions.ts';
import { ProgressBar } from '../../src/cli/progress.ts';
import { KafkaError } from '../../src/client/errors.ts';

const record = (over: Partial<RawRecord> = {}): RawRecord => ({
  topic: 'orders',
  partition: 2,
  offset: 41n,
  key: Buffer.from('k1'),
  value: Buffer.from('hello'),
  headers: [
    { key: 'a', value: Buffer.from('1') },
    { key: 'n', value: null },
  ],
  timestamp: 1700000000123n,
  timestampType: 'create-time',
  leaderEpoch: 0,
  ...over,
});

describe('argument parsing', () => {
  const specs = {
    partitions: { type: 'string', short: 'p' },
    config: { type: 'list', short: 'c' },
    exit: { type: 'boolean', short: 'e' },
    acks: { type: 'string' },
  } as const;

  test('long, short, inline and repeated options; values may start with a dash', () => {
    const { values, positionals } = parse(
      ['orders', '-p', '3', '-c', 'a=1', '--config=b=2', '-e', '--acks', '-1', '--', '-x'],
      specs,
      'topic create',
    );
    assert.deepEqual(values, { partitions: '3', config: ['a=1', 'b=2'], exit: true, acks: '-1' });
    assert.deepEqual(positionals, ['orders', '-x']);
    assert.deepEqual(parse(['-p3', '-K:'], { ...specs, sep: { type: 'string', short: 'K' } }, 'x').values, {
      partitions: '3',
      sep: ':',
    });
  });

  test('unknown options, missing values and flags given a value are usage errors in one line', () => {
    for (const [argv, message] of [
      [['--nope'], 'Unknown option "--nope" for "topic create"'],
      [['-q'], 'Unknown option "-q" for "topic create"'],
      [['-p'], 'Option "-p" needs a value'],
      [['--exit=yes'], 'Option "--exit" takes no value'],
      [['-p', '1', '-p', '2'], 'Option "-p" is given twice'],
    ] as const) {
      assert.throws(
        () => parse(argv, specs, 'topic create'),
        (err: unknown) => err instanceof UsageError && err.message === message && err.command === 'topic create',
      );
    }
  });
});

describe('positions', () => {
  test('start, end, offsets and timestamps in ms or ISO 8601', () => {
    assert.deepEqual(parsePosition('start', '-o', 'consume'), { kind: 'earliest' });
    assert.deepEqual(parsePosition('beginning', '-o', 'consume'), { kind: 'earliest' });
    assert.deepEqual(parsePosition('end', '-o', 'consume'), { kind: 'latest' });
    assert.deepEqual(parsePosition('42', '-o', 'consume'), { kind: 'offset', offset: 42n });
    assert.deepEqual(parsePosition('@1700000000000', '-o', 'consume'), {
      kind: 'timestamp',
      timestamp: 1700000000000n,
    });
    assert.deepEqual(parsePosition('@2023-11-14T22:13:20Z', '-o', 'consume'), {
      kind: 'timestamp',
      timestamp: 1700000000000n,
    });
    for (const bad of ['-3', 'later', '@', '@yesterday', '1.5']) {
      assert.throws(() => parsePosition(bad, '-o', 'consume'), UsageError, bad);
    }
  });
});

describe('output formats', () => {
  test('kcat fields, escapes and %%', () => {
    const format = compileFormat('%t/%p/%o %k=%v (%s) %K %S %T [%h] 100%%\\t|\\x41\\n');
    assert.equal(format(record()).toString(), 'orders/2/41 k1=hello (hello) 2 5 1700000000123 [a=1,n=NULL] 100%\t|A\n');
    assert.equal(
      compileFormat('%k|%v|%K|%S|%h\\n')(record({ key: null, value: null, headers: [] })).toString(),
      '||-1|-1|\n',
    );
  });

  test('keys and values are written byte for byte', () => {
    const bytes = Buffer.from([0xff, 0x00, 0x0a, 0xc3]);
    assert.deepEqual(compileFormat('%v')(record({ value: bytes })), bytes);
  });

  test('an unknown field or a trailing % is a usage error', () => {
    assert.throws(() => compileFormat('%q'), /unknown field "%q"/);
    assert.throws(() => compileFormat('%v%'), /ends with "%"/);
  });

  test('tables align columns and right-align numbers; JSON turns bigints into numbers', () => {
    assert.equal(
      table(
        ['topic', 'partitions', 'leader'],
        [
          ['orders', 3, null],
          ['a', 12n, 1],
        ],
      ),
      'TOPIC   PARTITIONS  LEADER\norders           3       -\na               12       1\n',
    );
    assert.equal(toJson({ offset: 5n, big: 2n ** 60n }, false), '{"offset":5,"big":"1152921504606846976"}');
  });
});

describe('error lines', () => {
  test('name the operation once, without Kafka code suffixes', () => {
    const exists = KafkaError.fromCode(
      36,
      'Cannot create topic "orders"',
      'Cannot create topic "orders": it already exists',
    );
    assert.equal(failure('Cannot create topic "orders"', exists), 'Cannot create topic "orders": it already exists');
    const unknown = KafkaError.fromCode(3, 'Cannot describe topic "x"');
    assert.equal(
      failure('Cannot consume from topic "x"', unknown),
      'Cannot consume from topic "x": topic does not exist',
    );
    assert.equal(
      failure(
        'Cannot list topics',
        new KafkaError('Cannot connect to any broker (bootstrap 127.0.0.1:1)', { code: 'CONNECTION_ERROR' }),
      ),
      'Cannot list topics: cannot connect to any broker (bootstrap 127.0.0.1:1)',
    );
    const partition = KafkaError.fromCode(6, 'Cannot list offsets of "x-0"');
    assert.equal(
      failure('Cannot describe topic "x"', partition),
      'Cannot describe topic "x": cannot list offsets of "x-0": Not leader or follower',
    );
  });
});

describe('lines', () => {
  test('split on newlines across chunks, byte for byte, with or without a final newline', async () => {
    const chunks = [Buffer.from('a:1\nb'), Buffer.from(':2\n\n'), Buffer.from([0xff, 0x0a, 0x63])];
    const got: Buffer[] = [];
    let bytes = 0;
    for await (const line of readLines(Readable.from(chunks), (n) => {
      bytes += n;
    })) {
      got.push(Buffer.from(line));
    }
    assert.deepEqual(got, [
      Buffer.from('a:1'),
      Buffer.from('b:2'),
      Buffer.from(''),
      Buffer.from([0xff]),
      Buffer.from('c'),
    ]);
    assert.equal(bytes, 12);
    const none: Buffer[] = [];
    for await (const line of readLines(Readable.from([]))) none.push(line);
    assert.deepEqual(none, []);
  });

  test('keys split at the first separator; no separator means no key', () => {
    const sep = Buffer.from('::');
    assert.deepEqual(splitKey(Buffer.from('k::v::w'), sep), { key: Buffer.from('k'), value: Buffer.from('v::w') });
    assert.deepEqual(splitKey(Buffer.from('plain'), sep), { key: null, value: Buffer.from('plain') });
    assert.deepEqual(splitKey(Buffer.from('::v'), sep), { key: Buffer.from(''), value: Buffer.from('v') });
  });
});

describe('progress bar', () => {
  test('draws in place on a terminal, at most every interval, and clears its line at the end', () => {
    let now = 0;
    const written: string[] = [];
    const stream = { isTTY: true, columns: 100, write: (s: string) => written.push(s) };
    const bar = new ProgressBar(stream, 1000, { intervalMs: 100, now: () => now });
    bar.update(100, 10);
    now = 50;
    bar.update(200, 20); // too soon
    now = 1000;
    bar.update(500, 50);
    bar.finish();
    assert.equal(written.length, 3);
    assert.match(written[0]!, /^\r\x1b\[2K\[#+-+\]\s+10%\s+10 records/);
    assert.match(written[1]!, /\s50%\s+50 records\s+500 B\/1000 B\s+50\/s$/);
    assert.equal(written[2], '\r\x1b[2K');
  });

  test('counts items against a total that grows as it becomes known (consume -e)', () => {
    let now = 0;
    const written: string[] = [];
    const bar = new ProgressBar({ isTTY: true, columns: 100, write: (s: string) => written.push(s) }, 0, {
      unit: 'items',
      now: () => now,
    });
    bar.update(0, 0);
    now = 2000;
    bar.total = 4000;
    bar.update(1000, 1000);
    assert.match(written[0]!, /\[-+\]\s+0%\s+0\/0 records/);
    assert.match(written[1]!, /\[#+-+\]\s+25%\s+1,000\/4,000 records\s+500\/s$/);
  });

  test('stays silent when the stream is not a terminal', () => {
    const written: string[] = [];
    const bar = new ProgressBar({ write: (s: string) => written.push(s) }, 10);
    bar.update(5, 1);
    bar.finish();
    assert.deepEqual(written, []);
  });
});
