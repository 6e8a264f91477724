// A third-party client on the same broker, to check that the raw generator's figures hold:
// Debian's kcat (librdkafka) producing and consuming the same 1 KiB records.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createTopics, KafkaConnection } from '../lib/kafka.ts';
import { values } from '../lib/load.ts';
import { type BrokerChild, cpuSecondsOf, removeDir, tempDir } from '../lib/procs.ts';
import { PAGE_CACHE } from './broker-load.ts';

export function kcatVersion(): string | null {
  const out = spawnSync('kcat', ['-V']);
  if (out.status !== 0) return null;
  const text = out.stdout.toString();
  return `kcat ${/Version (\S+)/.exec(text)?.[1] ?? '?'}, librdkafka ${/librdkafka (\S+)/.exec(text)?.[1] ?? '?'}`;
}

export interface ClientRun {
  records: number;
  seconds: number;
  recordsPerSec: number;
  /** Broker CPU seconds per wall second. */
  brokerCpu: number;
  /** kcat's CPU seconds per wall second. */
  clientCpu: number;
  command: string;
}

async function timed(
  broker: BrokerChild,
  args: string[],
  stdin: string | null,
  expect: number,
): Promise<Omit<ClientRun, 'command'>> {
  const cpu0 = cpuSecondsOf(broker.pid);
  const t0 = performance.now();
  // Run under sh so that its `times` reports kcat's own CPU time when kcat has exited.
  const child = spawn('sh', ['-c', 'kcat "$@"; code=$?; times >&2; exit $code', 'sh', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let lines = 0;
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`kcat ${args.join(' ')} exited with ${code}: ${err.slice(-2000)}`);
  const records = stdin === null ? lines : expect;
  if (stdin === null && records !== expect) throw new Error(`kcat consumed ${records} records, expected ${expect}`);
  return {
    records,
    seconds,
    recordsPerSec: records / seconds,
    brokerCpu: (cpuSecondsOf(broker.pid) - cpu0) / seconds,
    clientCpu: childrenCpuSeconds(err) / seconds,
  };
}

/** The children's user + system seconds from the last line of sh's `times` ("0m1.250s 0m0.310s"). */
function childrenCpuSeconds(stderr: string): number {
  const last = stderr.trim().split('\n').at(-1) ?? '';
  const parts = [...last.matchAll(/(\d+)m([\d.]+)s/g)];
  if (parts.length !== 2) throw new Error(`Cannot read kcat's CPU time from "${last}"`);
  return parts.reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
}

/** kcat -P of `records` 1 KiB lines to a 1-partition page-cache topic (acks=1), then kcat -C of them back. */
export async function kcatRuns(
  broker: BrokerChild,
  records: number,
): Promise<{ produce: ClientRun; consume: ClientRun }> {
  const dir = tempDir('kcat');
  try {
    const topic = 'kcat';
    const admin = await KafkaConnection.connect(broker.port);
    await createTopics(admin, [{ name: topic, partitions: 1, configs: PAGE_CACHE }]);
    admin.close();
    // The same values, one per line (newline is the delimiter, not part of the record).
    const file = join(dir, 'records.txt');
    const out = createWriteStream(file);
    const vals = values(64);
    for (let i = 0; i < records; i++) {
      if (!out.write(Buffer.concat([vals[i % vals.length]!, Buffer.from('\n')]))) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
    const bootstrap = `127.0.0.1:${broker.port}`;
    const produceArgs = [
      '-P',
      '-b',
      bootstrap,
      '-t',
      topic,
      '-p',
      '0',
      '-X',
      'acks=1',
      '-X',
      'linger.ms=5',
      '-X',
      'batch.size=1048576',
      '-X',
      'batch.num.messages=10000',
      '-X',
      'queue.buffering.max.kbytes=262144',
      '-X',
      'compression.codec=none',
      '-l',
      file,
    ];
    const produce = await timed(broker, produceArgs, file, records);
    const consumeArgs = ['-C', '-b', bootstrap, '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%o\n'];
    const consume = await timed(broker, consumeArgs, null, records);
    return {
      produce: { ...produce, command: `kcat ${produceArgs.join(' ').replace(file, 'records.txt')}` },
      consume: { ...consume, command: `kcat ${consumeArgs.join(' ').replace('%o\n', '%o\\n')}` },
    };
  } finally {
    removeDir(dir);
  }
}
