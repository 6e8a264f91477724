// The benchmark suite: `npm run bench` (full) or `npm run bench -- --quick` (every scenario at
// small size, under 3 minutes). Other flags: --only <a,b> (ceilings, produce, consume, latency,
// startup, rss, scale, kcat), --no-write (print, leave BENCHMARKS.md alone), --profile (CPU
// profiles of the broker's produce and fetch paths instead; see bench/profile.ts).
//
// Everything runs on loopback: our broker (`node bin/tributary.js start`, rebuilt first when
// src/ is newer than dist/), the ceiling receivers and the peers are child processes in temp dirs, bounded in
// time and count, killed and cleaned up at the end. Each BENCHMARKS.md section is rewritten
// by the scenario that measured it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRecordBatch, encodeRecordBatchSync } from '../src/protocol/records/record-batch.ts';
import { CEILING_LABEL, type CeilingMode, ceilingLatency, measureCeiling } from './ceilings/ceilings.ts';
import { fixed, int, median, mib, pct, table, times } from './lib/format.ts';
import { produceFrame } from './lib/kafka.ts';
import { encodeBatch, type LatencySummary, RECORDS_PER_BATCH, values } from './lib/load.ts';
import { type BrokerChild, cleanupAll, cpuSecondsOf, load, rssOf, sampleRss, sleep, startBroker } from './lib/procs.ts';
import { consumeThroughput, natsAvailable, natsVersion, publishThroughput, startNats } from './peers/nats.ts';
import {
  redisAvailable,
  redisBenchmark,
  redisVersion,
  startRedis,
  xaddThroughput,
  xrangeThroughput,
} from './peers/redis.ts';
import { machine, writeSection } from './report.ts';
import {
  type BrokerThroughput,
  caseLabel,
  fillTopic,
  measureConsume,
  measureLatency,
  measureProduce,
  type ProduceCase,
} from './scenarios/broker-load.ts';
import { measureScale } from './scenarios/scale.ts';
import { type ClientRun, kcatRuns, kcatVersion } from './scenarios/third-party.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const write = !argv.includes('--no-write');
const only = argv.includes('--only') ? new Set(argv[argv.indexOf('--only') + 1]!.split(',')) : null;
const wants = (s: string) => only === null || only.has(s);

const cfg = {
  reps: quick ? 1 : 3,
  seconds: quick ? 1 : 5,
  maxRecords: quick ? 200_000 : 2_000_000,
  connections: 4,
  inFlight: 8,
  consumeRecords: quick ? 256_000 : 512_000,
  latencySeconds: quick ? 2 : 15,
  kcatRecords: quick ? 50_000 : 500_000,
  scalePartitions: quick ? 1_000 : 10_000,
  scaleConnections: quick ? 200 : 1_000,
  startupRuns: quick ? 2 : 7,
};
const COMMAND = `npm run bench${quick ? ' -- --quick' : ''}`;
const loadAtStart = load();
const started = performance.now();

function header(title: string, extra = ''): string {
  return `## ${title}

Command: \`${COMMAND}\` (${quick ? 'quick: every scenario at small size' : `full: median of ${cfg.reps} interleaved repetitions`}).
Machine: ${machine()}; load average ${loadAtStart} at the start of the run, ${load()} when this section was written
(a shared machine: compare figures within a table, which come from the same run).
${extra}`;
}

function section(name: string, markdown: string): void {
  console.log(`\n${markdown}\n`);
  if (write) writeSection(name, markdown);
}

function log(message: string): void {
  console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0)} s] ${message}`);
}

const shape = {
  connections: cfg.connections,
  inFlight: cfg.inFlight,
  maxRecords: cfg.maxRecords,
  maxSeconds: cfg.seconds,
};
const ceilingShape = {
  connections: cfg.connections,
  inFlight: cfg.inFlight,
  maxRequests: Math.ceil(cfg.maxRecords / RECORDS_PER_BATCH),
  maxSeconds: cfg.seconds,
};
const peerLoad = {
  connections: cfg.connections,
  inFlight: cfg.inFlight,
  blockSize: RECORDS_PER_BATCH,
  records: cfg.maxRecords,
  maxSeconds: cfg.seconds,
  values: values(RECORDS_PER_BATCH),
};

// ------------------------------------------------------------------ measurements (kept for the tables)

const CASES: ProduceCase[] = [
  { partitions: 1, acks: 1, compression: 'none', durability: 'page-cache' },
  { partitions: 1, acks: 1, compression: 'lz4', durability: 'page-cache' },
  { partitions: 8, acks: 1, compression: 'none', durability: 'page-cache' },
  { partitions: 8, acks: 1, compression: 'lz4', durability: 'page-cache' },
  { partitions: 1, acks: -1, compression: 'none', durability: 'fsync' },
  { partitions: 1, acks: -1, compression: 'lz4', durability: 'fsync' },
  { partitions: 8, acks: -1, compression: 'none', durability: 'fsync' },
  { partitions: 8, acks: -1, compression: 'lz4', durability: 'fsync' },
  { partitions: 1, acks: 1, compression: 'none', durability: 'fsync' },
];
const ceilingKey = (mode: CeilingMode, compression: string) => `${mode}/${compression}`;
const ceilingFor = (c: ProduceCase): CeilingMode => (c.durability === 'fsync' ? 'fdatasync' : 'file');

const ceilings = new Map<string, Array<{ recordsPerSec: number; mibPerSec: number; serverCpu: number }>>();
const ours = new Map<string, BrokerThroughput[]>();
const peers = new Map<string, Array<{ recordsPerSec: number; mibPerSec: number; peakRss: number; cpu: number }>>();
const push = <T>(map: Map<string, T[]>, key: string, value: T) => map.set(key, [...(map.get(key) ?? []), value]);
const med = <T>(map: Map<string, T[]>, key: string, pick: (t: T) => number) => median((map.get(key) ?? []).map(pick));
/** The median records/s, with the range over the repetitions when there were several. */
function spread(map: Map<string, Array<{ recordsPerSec: number }>>, key: string, medianRate: number): string {
  const all = (map.get(key) ?? []).map((t) => t.recordsPerSec);
  if (all.length < 2) return int(medianRate);
  return `${int(medianRate)} (${int(Math.min(...all))}–${int(Math.max(...all))})`;
}

let broker: BrokerChild | null = null;
let idleRss = Number.NaN;
const peerIdleRss = new Map<string, number>();
const notes: string[] = [];

async function runCeilings(): Promise<void> {
  for (const compression of ['none', 'lz4'] as const) {
    const frame = produceFrame('t', [0], encodeBatch(RECORDS_PER_BATCH, compression), 1);
    for (const mode of ['discard', 'file', 'fdatasync'] as const) {
      log(`ceiling ${mode} ${compression}`);
      push(ceilings, ceilingKey(mode, compression), await measureCeiling(mode, frame, RECORDS_PER_BATCH, ceilingShape));
    }
  }
}

async function runOurProduce(): Promise<void> {
  for (const c of CASES) {
    log(`produce ${caseLabel(c)}`);
    push(ours, caseLabel(c), await measureProduce(broker!, c, shape));
  }
}

async function runPeerProduce(): Promise<void> {
  if (redisAvailable()) {
    for (const fsync of ['everysec', 'always'] as const) {
      for (const streams of [1, 8]) {
        log(`redis ${fsync} ${streams}`);
        const redis = await startRedis(fsync);
        if (!peerIdleRss.has('Redis')) {
          await sleep(300);
          peerIdleRss.set('Redis', rssOf(redis.pid));
        }
        const rss = sampleRss(redis.pid);
        const cpu0 = cpuSecondsOf(redis.pid);
        const t = await xaddThroughput(redis.port, { ...peerLoad, streams });
        const cpu = (cpuSecondsOf(redis.pid) - cpu0) / t.seconds;
        push(peers, `redis/${fsync}/${streams}`, { ...t, peakRss: rss.stop(), cpu });
        await redis.close();
      }
    }
  } else notes.push('redis-server is not installed: Redis Streams columns are empty (apt-get install redis-server).');
  if (natsAvailable()) {
    for (const streams of [1, 8]) {
      log(`nats ${streams}`);
      const nats = await startNats();
      if (!peerIdleRss.has('NATS')) {
        await sleep(300);
        peerIdleRss.set('NATS', rssOf(nats.pid));
      }
      const rss = sampleRss(nats.pid);
      const cpu0 = cpuSecondsOf(nats.pid);
      const t = await publishThroughput(nats.port, { ...peerLoad, streams });
      const cpu = (cpuSecondsOf(nats.pid) - cpu0) / t.seconds;
      push(peers, `nats/${streams}`, { ...t, peakRss: rss.stop(), cpu });
      await nats.close();
    }
  } else notes.push('nats-server is not installed: NATS JetStream columns are empty (apt-get install nats-server).');
}

// ------------------------------------------------------------------ sections

function ceilingsSection(): void {
  const rows: string[][] = [];
  for (const mode of ['discard', 'file', 'fdatasync'] as const) {
    for (const compression of ['none', 'lz4']) {
      const k = ceilingKey(mode, compression);
      rows.push([
        CEILING_LABEL[mode],
        compression,
        int(med(ceilings, k, (t) => t.recordsPerSec)),
        fixed(med(ceilings, k, (t) => t.mibPerSec)),
        pct(med(ceilings, k, (t) => t.serverCpu)),
        fixed(
          med(ceilings, k, (t) => (t.serverCpu / t.recordsPerSec) * 1e6),
          2,
        ),
      ]);
    }
  }
  section(
    'ceilings',
    `${header(
      'Machine ceilings',
      `
Small Node programs (\`bench/ceilings/receiver.ts\`) receiving exactly our Produce frames (one
64-record batch of 1 KiB records per request) on ${cfg.connections} loopback connections with ${cfg.inFlight} requests in
flight each, answering each frame with 4 bytes: *discard* answers on the last byte read, *file*
appends what arrived (one writev) to one file and then answers, *fdatasync* also fdatasyncs whenever
1 MiB is unsynced (or nothing else is waiting) and answers only synced frames. lz4 frames carry the
same records compressed, so their ceiling is in the same records.
`,
    )}
${table(['ceiling', 'frames', 'records/s', 'MiB/s on the wire', 'receiver CPU', 'CPU µs/record'], rows)}
`,
  );
}

function peersSection(): void {
  section(
    'peers',
    `## Peers: versions and how durability was matched

Started by the bench on loopback, each in its own temp dir, killed and removed after each run; a fresh
server per run. Driven by small pipelined clients in \`bench/peers/\` written like ours (same 1 KiB
values, ${cfg.connections} connections, ${cfg.inFlight} blocks of ${RECORDS_PER_BATCH} records in flight per connection, so the same records
in flight as our ${cfg.inFlight} requests of ${RECORDS_PER_BATCH}), each record acknowledged individually as these protocols do.

| | version | "acks=1" rows (Tributary: page cache) | "acks=all" rows (Tributary: fdatasync before ack) |
|---|---|---|---|
| NATS JetStream | nats-server ${natsVersion()} (Debian) | stream per partition, \`storage: file\`, 1 replica; PUB with a reply subject, one PubAck per message | the same: 2.9 cannot fsync before the PubAck (\`sync_interval\`/\`sync: always\` arrived in 2.10; the file store is fsynced on a 2-minute timer), so on these rows NATS is less durable than Tributary |
| Redis Streams | redis-server ${redisVersion()} (Debian) | a stream key per partition, \`XADD key * v <1 KiB>\`, \`appendonly yes\`, \`appendfsync everysec\` (ack after write(2) to the AOF; fsync each second: slightly *more* durable than page cache) | \`appendonly yes\`, \`appendfsync always\`: the AOF is written and fsynced before replies go out, once per event-loop turn (group commit, as ours) |

Reading back (consume section): Redis \`XRANGE key (last-id hi COUNT 1000\`, NATS a push consumer
(\`ack_policy: none\`, \`deliver_policy: all\`, flow control). Neither peer compresses, so lz4 rows are
compared with the same uncompressed peer figure, record for record.
`,
  );
}

function produceSection(kcat: ClientRun | null): void {
  const rows: string[][] = [];
  const peerCell = (key: string, ourRate: number): [string, string] => {
    const rate = med(peers, key, (t) => t.recordsPerSec);
    const us = med(peers, key, (t) => (t.cpu / t.recordsPerSec) * 1e6);
    return [`${int(rate)} (${fixed(us, 1)} µs)`, times(ourRate / rate)];
  };
  for (const c of CASES) {
    const k = caseLabel(c);
    const rate = med(ours, k, (t) => t.recordsPerSec);
    const mode = ceilingFor(c);
    const ceiling = med(ceilings, ceilingKey(mode, c.compression), (t) => t.recordsPerSec);
    const redisKey = `redis/${c.durability === 'fsync' ? 'always' : 'everysec'}/${c.partitions}`;
    rows.push([
      k,
      'raw pipelined',
      spread(ours, k, rate),
      fixed(med(ours, k, (t) => t.mibPerSec)),
      pct(med(ours, k, (t) => t.brokerCpu)),
      fixed(
        med(ours, k, (t) => (t.brokerCpu / t.recordsPerSec) * 1e6),
        2,
      ),
      pct(med(ours, k, (t) => t.driverCpu)),
      `${int(ceiling)} (${mode === 'file' ? 'file' : 'fdatasync'})`,
      pct(rate / ceiling),
      ...peerCell(`nats/${c.partitions}`, rate),
      ...peerCell(redisKey, rate),
    ]);
  }
  if (kcat) {
    const ceiling = med(ceilings, ceilingKey('file', 'none'), (t) => t.recordsPerSec);
    rows.push([
      caseLabel(CASES[0]!),
      `kcat (${kcatVersion()})`,
      int(kcat.recordsPerSec),
      fixed((kcat.recordsPerSec * 1024) / 2 ** 20),
      pct(kcat.brokerCpu),
      fixed((kcat.brokerCpu / kcat.recordsPerSec) * 1e6, 2),
      `${pct(kcat.clientCpu)} (kcat)`,
      `${int(ceiling)} (file)`,
      pct(kcat.recordsPerSec / ceiling),
      ...peerCell('nats/1', kcat.recordsPerSec),
      ...peerCell('redis/everysec/1', kcat.recordsPerSec),
    ]);
  }
  const rb = redisBenchmarkRun;
  section(
    'produce',
    `${header(
      'Produce throughput',
      `
1 KiB records in batches of ${RECORDS_PER_BATCH} (one batch per Produce v9 request), ${cfg.connections} connections × ${cfg.inFlight} requests
in flight, ${quick ? 'about' : 'up to'} ${cfg.seconds} s or ${int(cfg.maxRecords)} records per run after a 0.3 s warm-up, a fresh topic per run.
*Page cache* is Kafka's default (\`flush.messages\` = Long.MAX: acknowledged after the write);
*fdatasync before ack* is Tributary's default topic config (\`flush.messages=1\`, group commit), under
which acks=1 and acks=all wait for the same fdatasync. "raw pipelined" is \`bench/lib\`: requests
encoded once with our codecs, written back to back. Broker CPU: broker process CPU time per wall
second (100 % = one core; the broker's JavaScript runs on one); driver CPU: the same for the load
generator, which stays well below one core, so it is not what limits these figures. Peers: same records, same
connections and in-flight records, durability matched as described under *Peers* below
(NATS cannot fsync per message: † its figure is page-cache durability on every row).
`,
    )}
${table(
  [
    'case',
    'client',
    'records/s',
    'MiB/s',
    'broker CPU',
    'broker CPU µs/record',
    'driver CPU',
    'ceiling records/s',
    '% of ceiling',
    'NATS JetStream† records/s (server CPU µs/record)',
    '× NATS',
    'Redis Streams records/s (server CPU µs/record)',
    '× Redis',
  ],
  rows,
)}
${rb ? `\nCross-check of the Redis client: \`${rb.command}\` (Redis's C generator, appendfsync everysec) gave ${int(rb.recordsPerSec)} records/s.\n` : ''}`,
  );
}
let redisBenchmarkRun: { recordsPerSec: number; command: string } | null = null;

// ------------------------------------------------------------------ main

/**
 * Rebuilds dist/ when a source file is newer than the last build (the broker runs from
 * dist/): \`tsc -p tsconfig.build.json\`, as \`npm run build\`, but incremental, with its
 * build info outside the repo, so a rebuild after a few changed files takes seconds.
 */
function buildIfStale(): void {
  const root = new URL('..', import.meta.url).pathname;
  const info = join(tmpdir(), 'tributary-bench.tsbuildinfo');
  const mtime = (path: string) => (existsSync(path) ? statSync(path).mtimeMs : 0);
  const main = join(root, 'dist/cli/main.js');
  const built = mtime(main) === 0 ? 0 : Math.max(mtime(main), mtime(info));
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const path = join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(path) : e.name.endsWith('.ts') ? statSync(path).mtimeMs : 0);
    }, 0);
  if (built > 0 && newest(join(root, 'src')) <= built) return;
  log('building dist/ (tsc -p tsconfig.build.json, incremental): src/ is newer');
  const out = spawnSync(
    join(root, 'node_modules/.bin/tsc'),
    ['-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', info],
    { cwd: root, stdio: 'inherit', timeout: 300_000 },
  );
  // Type errors in work in progress elsewhere in the tree still emit; only a missing build is fatal.
  if (out.status !== 0) {
    if (!existsSync(main)) throw new Error('The build failed and there is no dist/');
    notes.push('The build reported type errors (work in progress elsewhere); dist/ was emitted anyway.');
  }
}

async function main(): Promise<void> {
  if (argv.includes('--profile')) {
    buildIfStale();
    const { runProfile } = await import('./profile.ts');
    await runProfile({ quick, write });
    return;
  }
  log(`${quick ? 'quick' : 'full'} run; load ${loadAtStart}`);
  buildIfStale();
  broker = await startBroker();
  await sleep(1000);
  idleRss = rssOf(broker.pid);
  // Warm-up: the broker's JIT reaches steady state only after a few seconds of each path.
  log('warm-up');
  for (const c of [CASES[0]!, CASES[2]!, CASES[4]!, CASES[5]!]) {
    await measureProduce(broker, c, { ...shape, maxSeconds: quick ? 0.75 : 2 });
  }

  const throughputWanted = wants('ceilings') || wants('produce');
  if (throughputWanted) {
    for (let rep = 0; rep < cfg.reps; rep++) {
      log(`repetition ${rep + 1}/${cfg.reps}`);
      await runCeilings();
      if (wants('produce')) {
        await runOurProduce();
        await runPeerProduce();
      }
    }
    ceilingsSection();
  }

  let kcat: { produce: ClientRun; consume: ClientRun } | null = null;
  if (wants('kcat') || wants('produce')) {
    if (kcatVersion() !== null) {
      log('kcat');
      kcat = await kcatRuns(broker, cfg.kcatRecords);
    } else notes.push('kcat is not installed: no third-party client row.');
  }
  if (wants('produce')) {
    if (redisAvailable()) {
      const redis = await startRedis('everysec');
      redisBenchmarkRun = redisBenchmark(
        redis.port,
        cfg.kcatRecords,
        cfg.connections,
        cfg.inFlight * RECORDS_PER_BATCH,
        values(1)[0]!,
      );
      await redis.close();
    }
    produceSection(kcat?.produce ?? null);
    peersSection();
  }

  if (wants('consume')) await consumeScenario(kcat?.consume ?? null);
  if (wants('latency')) await latencyScenario();
  const afterLoadRss = rssOf(broker.pid);
  await broker.stop();
  if (wants('rss')) rssSection(afterLoadRss);
  if (wants('scale')) await scaleScenario();
  if (wants('startup')) startupScenario();
  if (only === null) summarySection();
  if (notes.length) console.error(notes.join('\n'));
  log('done');
}

// ------------------------------------------------------------------ consume

const consumeRuns = new Map<string, BrokerThroughput[]>();
const peerConsume = new Map<string, number[]>();

async function consumeScenario(kcat: ClientRun | null): Promise<void> {
  const b = broker!;
  if (!ceilings.has(ceilingKey('discard', 'none'))) {
    const frame = produceFrame('t', [0], encodeBatch(), 1);
    push(
      ceilings,
      ceilingKey('discard', 'none'),
      await measureCeiling('discard', frame, RECORDS_PER_BATCH, ceilingShape),
    );
  }
  const ends = new Map<number, bigint>();
  for (const partitions of [1, 8]) {
    log(`consume: filling ${partitions}`);
    ends.set(partitions, await fillTopic(b, `consume-${partitions}`, partitions, cfg.consumeRecords / partitions));
  }
  for (let rep = 0; rep < cfg.reps; rep++) {
    for (const partitions of [1, 8]) {
      log(`consume ${partitions}`);
      const readers = partitions === 1 ? 4 : 1;
      push(
        consumeRuns,
        `${partitions}`,
        await measureConsume(b, `consume-${partitions}`, partitions, ends.get(partitions)!, readers, 60),
      );
    }
  }
  // Peers read back what they stored: Redis with XRANGE, NATS with a push consumer.
  for (const partitions of [1, 8]) {
    if (redisAvailable()) {
      const redis = await startRedis('everysec');
      await xaddThroughput(redis.port, {
        ...peerLoad,
        streams: partitions,
        records: cfg.consumeRecords,
        maxSeconds: 120,
      });
      for (let rep = 0; rep < cfg.reps; rep++) {
        log(`redis consume ${partitions}`);
        const t = await xrangeThroughput(redis.port, partitions, partitions === 1 ? 4 : 1, 1000, 60);
        push(peerConsume, `redis/${partitions}`, t.recordsPerSec);
      }
      await redis.close();
    }
    if (natsAvailable()) {
      const nats = await startNats();
      await publishThroughput(nats.port, {
        ...peerLoad,
        streams: partitions,
        records: cfg.consumeRecords,
        maxSeconds: 120,
      });
      for (let rep = 0; rep < cfg.reps; rep++) {
        log(`nats consume ${partitions}`);
        const t = await consumeThroughput(nats.port, partitions, 60);
        push(peerConsume, `nats/${partitions}`, t.recordsPerSec);
      }
      await nats.close();
    }
  }
  const ceiling = med(ceilings, ceilingKey('discard', 'none'), (t) => t.recordsPerSec);
  const rows = [1, 8].map((p) => {
    const rate = med(consumeRuns, `${p}`, (t) => t.recordsPerSec);
    const nats = median(peerConsume.get(`nats/${p}`) ?? []);
    const redis = median(peerConsume.get(`redis/${p}`) ?? []);
    return [
      `${p} partition${p > 1 ? 's' : ''} (${p === 1 ? '4 readers' : '1 reader each'})`,
      'raw pipelined',
      spread(consumeRuns, `${p}`, rate),
      fixed(med(consumeRuns, `${p}`, (t) => t.mibPerSec)),
      pct(med(consumeRuns, `${p}`, (t) => t.brokerCpu)),
      fixed(
        med(consumeRuns, `${p}`, (t) => (t.brokerCpu / t.recordsPerSec) * 1e6),
        2,
      ),
      pct(med(consumeRuns, `${p}`, (t) => t.driverCpu)),
      int(ceiling),
      pct(rate / ceiling),
      int(nats),
      times(rate / nats),
      int(redis),
      times(rate / redis),
    ];
  });
  if (kcat) {
    const nats = median(peerConsume.get('nats/1') ?? []);
    const redis = median(peerConsume.get('redis/1') ?? []);
    rows.push([
      '1 partition',
      `kcat -C (${kcatVersion()})`,
      int(kcat.recordsPerSec),
      fixed((kcat.recordsPerSec * 1024) / 2 ** 20),
      pct(kcat.brokerCpu),
      fixed((kcat.brokerCpu / kcat.recordsPerSec) * 1e6, 2),
      `${pct(kcat.clientCpu)} (kcat)`,
      int(ceiling),
      pct(kcat.recordsPerSec / ceiling),
      int(nats),
      times(kcat.recordsPerSec / nats),
      int(redis),
      times(kcat.recordsPerSec / redis),
    ]);
  }
  section(
    'consume',
    `${header(
      'Consume throughput',
      `
${int(cfg.consumeRecords)} records of 1 KiB written first (page-cache topic, so reads come from the page cache), then read
from offset 0 to the end with Fetch v12, 1 MiB per partition per request, 4 fetches in flight per
reader (pipelined at the offsets the first fetch's stride predicts); 1 partition is read by 4 readers
over its four quarters of offsets, 8 partitions by one reader each. Ceiling: the *TCP → discard* receiver (loopback bytes into Node, nothing done). Peers read the
same records back: Redis with \`XRANGE … COUNT 1000\` (4 readers over quarters of the id range for 1 stream),
NATS JetStream with a push consumer per stream (ack none, flow control answered).
`,
    )}
${table(['case', 'client', 'records/s', 'MiB/s', 'broker CPU', 'broker CPU µs/record', 'driver CPU', 'ceiling records/s', '% of ceiling', 'NATS records/s', '× NATS', 'Redis records/s', '× Redis'], rows)}
`,
  );
}

// ------------------------------------------------------------------ latency

const latencies = new Map<string, { rate: number; ours: LatencySummary; ceiling: LatencySummary }>();

async function latencyScenario(): Promise<void> {
  const b = broker!;
  for (const c of [CASES[0]!, CASES[4]!]) {
    const k = caseLabel(c);
    let max = med(ours, k, (t) => t.recordsPerSec);
    if (!Number.isFinite(max)) {
      log(`latency: measuring the maximum of ${k}`);
      max = (await measureProduce(b, c, shape)).recordsPerSec;
    }
    const rate = Math.round(max * 0.2);
    log(`latency ${k} at ${rate}/s`);
    // Each run starts with no dirty pages: the gigabytes the runs before it wrote would
    // otherwise be flushed to disk during it, which mostly measures the disk's backlog.
    spawnSync('sync');
    const result = await measureLatency(b, c, rate, cfg.latencySeconds);
    spawnSync('sync');
    const vals = values(RECORDS_PER_BATCH);
    const ceiling = await ceilingLatency(
      c.durability === 'fsync' ? 'fdatasync' : 'file',
      (n) =>
        produceFrame(
          't',
          [0],
          encodeRecordBatchSync(createRecordBatch(vals.slice(0, n).map((value) => ({ value })))),
          1,
        ),
      rate,
      cfg.latencySeconds,
    );
    latencies.set(k, { rate, ours: result, ceiling });
  }
  const rows: string[][] = [];
  const delivered = (l: LatencySummary, rate: number) => pct(l.samples / (rate * cfg.latencySeconds));
  for (const [k, l] of latencies) {
    for (const [path, r] of [
      ['Tributary, produce → fetch', l.ours],
      [`ceiling: request → ack, TCP → ${k.includes('fdatasync') ? 'file + fdatasync' : 'file'}`, l.ceiling],
    ] as const) {
      rows.push([
        k,
        path,
        int(l.rate),
        `${int(r.samples)} (${delivered(r, l.rate)})`,
        fixed(r.p50, 2),
        fixed(r.p99, 2),
        fixed(r.p999, 2),
        fixed(r.max, 1),
      ]);
    }
  }
  section(
    'latency',
    `${header(
      'End-to-end latency',
      `
One partition, at 20 % of the maximum the produce scenario found for the same case in this run.
A producer sends what is due every millisecond as one batch (the send time in each record's key; a
producer with linger.ms=1), one connection, pipelined; a consumer on another connection long-polls
(Fetch v12, max_wait 100 ms, min_bytes 1, 16 MiB per partition so that it catches up in one
fetch after a stall) from offset 0. Latency per record: arrival at the consumer
minus send time, after a 0.5 s warm-up, over ${cfg.latencySeconds} s (\`sync\` first, so that no earlier run's dirty pages
are flushed during it). The ceiling row sends the same batches at
the same rate to the ceiling receiver and times request → ack (one hop, no consumer). Samples below
100 % of those sent mean the consumer had not caught up by the end: the rate was more than the
broker could sustain at that moment (the maximum it is derived from was measured earlier, on a
shared machine).
Target: p99 ≤ 5 ms.
`,
    )}
${table(['case', 'path', 'records/s', 'samples (% of those sent)', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms'], rows)}
`,
  );
}

// ------------------------------------------------------------------ RSS

function rssSection(afterLoad: number): void {
  const max = (xs: number[]) => (xs.some(Number.isFinite) ? Math.max(...xs.filter(Number.isFinite)) : Number.NaN);
  const peakProduce = max([...ours.values()].flat().map((t) => t.peakRss));
  const peakConsume = max([...consumeRuns.values()].flat().map((t) => t.peakRss));
  const peerPeak = (prefix: string) =>
    max([...peers.entries()].filter(([k]) => k.startsWith(prefix)).flatMap(([, v]) => v.map((t) => t.peakRss)));
  const rows = [
    ['Tributary (node bin/tributary.js start)', mib(idleRss), mib(peakProduce), mib(peakConsume), mib(afterLoad)],
    [`NATS ${natsVersion()} (-js)`, mib(peerIdleRss.get('NATS') ?? Number.NaN), mib(peerPeak('nats/')), '–', '–'],
    [`Redis ${redisVersion()} (AOF)`, mib(peerIdleRss.get('Redis') ?? Number.NaN), mib(peerPeak('redis/')), '–', '–'],
  ];
  section(
    'rss',
    `${header(
      'Memory (RSS)',
      `
VmRSS from /proc/<pid>/status of each server process: idle 1 s after start (empty data dir), the peak
sampled every 100 ms during the produce runs (all cases) and the consume runs, and after all the
load. Target: idle ≤ 80 MB (${(80e6 / 2 ** 20).toFixed(0)} MiB).
`,
    )}
${table(['server', 'idle', 'peak, produce', 'peak, consume', 'after the load'], rows)}
`,
  );
}

// ------------------------------------------------------------------ scale

async function scaleScenario(): Promise<void> {
  log(`scale: ${cfg.scalePartitions} partitions, ${cfg.scaleConnections} connections`);
  const b = await startBroker();
  try {
    await sleep(500);
    const idle = rssOf(b.pid);
    const s = await measureScale(b, cfg.scalePartitions, cfg.scaleConnections, 16);
    const rows = [
      [
        `create ${int(s.partitions)} partitions (${s.topics} topic${s.topics > 1 ? 's' : ''} × ${int(s.partitions / s.topics)}, one CreateTopics)`,
        `${fixed(s.createMs, 0)} ms`,
        `${fixed((s.createMs * 1000) / s.partitions, 0)} µs per partition`,
      ],
      [
        `write a 16-record batch to each (acks=all, fdatasync before ack; one Produce per topic)`,
        `${fixed(s.writeMs, 0)} ms`,
        `${int((s.recordsWritten / s.writeMs) * 1000)} records/s`,
      ],
      [
        'RSS: idle → with the partitions written',
        `${mib(idle)} → ${mib(s.rssAfterPartitions)}`,
        `${fixed((s.rssAfterPartitions - idle) / s.partitions / 1024, 1)} KiB per partition; ${int(s.openFds)} open fds`,
      ],
      [
        `open ${int(s.connections)} connections (waves of 100, ApiVersions on each)`,
        `${fixed(s.connectMs, 0)} ms`,
        `RSS ${mib(s.rssWithConnections)}, ${fixed((s.rssWithConnections - s.rssAfterPartitions) / s.connections / 1024, 1)} KiB per connection`,
      ],
      [
        `Metadata on all ${int(s.connections)} at once`,
        `${fixed(s.metadataAllMs, 0)} ms`,
        `p99 ${fixed(s.metadataP99Ms, 1)} ms`,
      ],
      [`one Produce (1 record, acks=all) on all ${int(s.connections)} at once`, `${fixed(s.produceAllMs, 0)} ms`, ''],
      ['RSS after closing the connections', mib(s.rssAfterClose), ''],
    ];
    section(
      'scale',
      `${header('Scale', '\nA fresh broker (default config: fdatasync before ack). Each step is timed from the first request to the last response.\n')}
${table(['step', 'time / value', 'per unit'], rows, ['l', 'r', 'l'])}
`,
    );
    scaleResult = s;
  } finally {
    await b.stop();
  }
}
let scaleResult: Awaited<ReturnType<typeof measureScale>> | null = null;

// ------------------------------------------------------------------ start-up (bench/startup.ts)

let startup: { inProcess: number; inProcess1000: number; cli: number; cli1000: number } | null = null;

function startupScenario(): void {
  log('start-up (bench/startup.ts)');
  const args = ['--import', 'tsx', 'bench/startup.ts', '--runs', String(cfg.startupRuns)];
  if (write) args.push('--write');
  const out = spawnSync(process.execPath, args, { cwd: new URL('..', import.meta.url).pathname, timeout: 170_000 });
  const text = out.stdout?.toString() ?? '';
  if (out.status !== 0) {
    notes.push(`bench/startup.ts failed: ${out.stderr?.toString().slice(-1000)}`);
    return;
  }
  console.log(text);
  const row = (label: string) =>
    Number(new RegExp(`\\| ${label.replace(/[().]/g, '\\$&')}[^|]* \\| ([\\d.]+) \\|`).exec(text)?.[1]);
  startup = {
    inProcess: row('in-process, empty data dir'),
    inProcess1000: row('in-process, 1,000 partitions'),
    cli: row('CLI (node bin/tributary.js start), empty'),
    cli1000: row('CLI, 1,000 partitions'),
  };
}

// ------------------------------------------------------------------ summary

function summarySection(): void {
  const rate = (c: ProduceCase) => med(ours, caseLabel(c), (t) => t.recordsPerSec);
  const ceil = (c: ProduceCase) => med(ceilings, ceilingKey(ceilingFor(c), c.compression), (t) => t.recordsPerSec);
  const peer = (k: string) => med(peers, k, (t) => t.recordsPerSec);
  const [p1, , p8, , d1, , d8] = CASES as [
    ProduceCase,
    ProduceCase,
    ProduceCase,
    ProduceCase,
    ProduceCase,
    ProduceCase,
    ProduceCase,
  ];
  const discard = med(ceilings, ceilingKey('discard', 'none'), (t) => t.recordsPerSec);
  const c1 = med(consumeRuns, '1', (t) => t.recordsPerSec);
  const c8 = med(consumeRuns, '8', (t) => t.recordsPerSec);
  const lat = [...latencies.values()];
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
  const both = (a: number, b: number, goal: number, fmt: (x: number) => string) => [
    `${fmt(a)} / ${fmt(b)}`,
    verdict(a >= goal && b >= goal),
  ];
  const rows: string[][] = [
    [
      'produce, acks=1 (page cache), 1 / 8 partitions',
      '≥ 60 % of TCP → file',
      ...both(rate(p1) / ceil(p1), rate(p8) / ceil(p8), 0.6, pct),
    ],
    [
      'produce, acks=all (fdatasync), 1 / 8 partitions',
      '≥ 50 % of fdatasync/MiB',
      ...both(rate(d1) / ceil(d1), rate(d8) / ceil(d8), 0.5, pct),
    ],
    ['consume, 1 / 8 partitions', '≥ 70 % of TCP → discard', ...both(c1 / discard, c8 / discard, 0.7, pct)],
    [
      'produce vs NATS JetStream, acks=1, 1 / 8 partitions',
      '≥ 1.5×',
      ...both(rate(p1) / peer('nats/1'), rate(p8) / peer('nats/8'), 1.5, times),
    ],
    [
      'produce vs Redis Streams (everysec), acks=1, 1 / 8',
      '≥ 1×',
      ...both(rate(p1) / peer('redis/everysec/1'), rate(p8) / peer('redis/everysec/8'), 1, times),
    ],
    [
      'produce vs Redis Streams (always), acks=all, 1 / 8',
      '≥ 1×',
      ...both(rate(d1) / peer('redis/always/1'), rate(d8) / peer('redis/always/8'), 1, times),
    ],
    ...lat.map((l, i) => [
      `p99 end-to-end at 20 % load, ${i === 0 ? 'acks=1 page cache' : 'acks=all fdatasync'}`,
      '≤ 5 ms',
      `${fixed(l.ours.p99, 2)} ms`,
      verdict(l.ours.p99 <= 5),
    ]),
    [
      'start-up in-process (empty)',
      '≤ 100 ms',
      `${fixed(startup?.inProcess ?? Number.NaN)} ms`,
      verdict((startup?.inProcess ?? Infinity) <= 100),
    ],
    ['idle RSS', '≤ 80 MB', `${fixed(idleRss / 1e6)} MB`, verdict(idleRss <= 80e6)],
  ];
  if (scaleResult) {
    rows.push([
      `scale: ${int(scaleResult.partitions)} partitions, ${int(scaleResult.connections)} connections`,
      'works, bounded',
      `created ${fixed(scaleResult.createMs / 1000, 1)} s, written ${fixed(scaleResult.writeMs / 1000, 1)} s, ${mib(scaleResult.rssWithConnections)}`,
      '',
    ]);
  }
  section(
    'summary',
    `${header('Where we stand against the targets (issue 7)', '\nRatios are between figures of the same run; details in the sections below.\n')}
${table(['target', 'goal', 'measured', ''], rows, ['l', 'l', 'r', 'l'])}
`,
  );
}

try {
  await main();
} finally {
  await (broker as BrokerChild | null)?.stop().catch(() => {});
  cleanupAll();
}
