// Start-up time of the broker: in-process (startBroker / Broker.start) and through the CLI,
// empty and holding 1,000 partitions. Usage: npm run bench:startup [-- --runs <n>] [--write]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../src/broker/broker.ts';
import { BrokerConfig } from '../src/broker/config.ts';
import { silentLogger } from '../src/broker/logger.ts';
import { machine, median, writeSection } from './report.ts';

const argv = process.argv.slice(2);
const runs = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : 7;
const root = new URL('..', import.meta.url).pathname;

function config(dataDir: string): BrokerConfig {
  return new BrokerConfig({ listeners: 'PLAINTEXT://127.0.0.1:0', 'log.dirs': dataDir });
}

async function inProcess(dataDir: string): Promise<number> {
  const t0 = performance.now();
  const broker = await Broker.start({ config: config(dataDir), logger: silentLogger() });
  const ms = performance.now() - t0;
  await broker.close();
  return ms;
}

/** Wall time from spawning `tributary start` to its listening line. */
function cli(dataDir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [join(root, 'bin/tributary.js'), 'start', '--port', '0', '--data-dir', dataDir],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      if (/listening on/.test(err)) {
        const ms = performance.now() - t0;
        child.once('exit', () => resolve(ms));
        child.kill('SIGTERM');
      }
    });
    child.once('exit', (code) => {
      if (!/listening on/.test(err)) reject(new Error(`CLI exited with ${code}: ${err}`));
    });
  });
}

async function withPartitions(dataDir: string, count: number): Promise<void> {
  const broker = await Broker.start({ config: config(dataDir), logger: silentLogger() });
  await broker.services.topics.create({ name: 'many', numPartitions: count, replicationFactor: 1 });
  await broker.close();
}

async function measure(label: string, fn: () => Promise<number>): Promise<[string, number, number]> {
  await fn(); // warm the file system cache and the module cache
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await fn());
  return [label, median(times), Math.min(...times)];
}

const empty = await mkdtemp(join(tmpdir(), 'tributary-bench-'));
const full = await mkdtemp(join(tmpdir(), 'tributary-bench-'));
try {
  await withPartitions(full, 1000);
  const rows = [
    await measure('in-process, empty data dir', () => inProcess(empty)),
    await measure('in-process, 1,000 partitions', () => inProcess(full)),
    await measure('CLI (node bin/tributary.js start), empty', () => cli(empty)),
    await measure('CLI, 1,000 partitions', () => cli(full)),
  ];
  const table = [
    '| start-up | median ms | best ms |',
    '|---|---:|---:|',
    ...rows.map(([label, med, best]) => `| ${label} | ${med.toFixed(1)} | ${best.toFixed(1)} |`),
  ].join('\n');
  const section = `## Start-up

Command: \`npm run bench:startup\` (${runs} runs after one warm-up; the CLI runs from \`dist/\`).
Machine: ${machine()}.
In-process is \`Broker.start()\` until the socket listens (module loading excluded); the CLI
figure is the wall time from spawning the process to its listening line, so it includes
starting Node and loading the modules. Targets: < 100 ms in-process, < 2 s with 1,000 partitions.

${table}
`;
  console.log(section);
  if (argv.includes('--write')) writeSection('startup', section);
} finally {
  await rm(empty, { recursive: true, force: true });
  await rm(full, { recursive: true, force: true });
}
