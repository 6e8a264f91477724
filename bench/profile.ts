// CPU profiles of the broker's hot paths: `npm run bench -- --profile [--quick]`. The broker
// runs as `node --cpu-prof bin/tributary.js start`; one broker takes produce load (8
// partitions, acks=1 page cache, then acks=all with fdatasync), another serves fetches from
// the page cache. Each profile is summarised by self time per function and by inclusive time
// per area of the code, into the `profile` section of BENCHMARKS.md.
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixed, table } from './lib/format.ts';
import { RECORDS_PER_BATCH } from './lib/load.ts';
import { ROOT, startBroker, tempDir } from './lib/procs.ts';
import { machine, writeSection } from './report.ts';
import { fillTopic, measureConsume, measureProduce } from './scenarios/broker-load.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(url: string, line: number): string {
  if (url === '') return '';
  const path = url.replace(/^file:\/\//, '');
  const rel = path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
  return `${rel.replace(/^dist\//, 'dist/')}:${line + 1}`;
}

/** Where a frame belongs, for the inclusive breakdown. */
function area(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return '(program: native, not attributed)';
  const path = url.replace(/^file:\/\//, '');
  const m = /\/dist\/([^/]+\/[^/]+)/.exec(path);
  if (m) return `dist/${m[1]!.replace(/\.js$/, '')}`;
  if (path.includes('node_modules/')) return `node_modules/${path.split('node_modules/')[1]!.split('/')[0]}`;
  if (path.startsWith('node:')) return path;
  return url === '' ? `(native) ${name}` : path;
}

export interface ProfileSummary {
  totalMs: number;
  busyMs: number;
  selfTop: Array<{ fn: string; at: string; ms: number; pct: number }>;
  areas: Array<{ area: string; ms: number; pct: number }>;
  inclusiveTop: Array<{ fn: string; at: string; ms: number; pct: number }>;
}

export function summarizeProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    total += ms;
    const leaf = byId.get(profile.samples[i]!)!;
    const leafName = leaf.callFrame.functionName || '(anonymous)';
    if (leafName === '(idle)') {
      idle += ms;
      continue;
    }
    const leafKey = `${leafName}\t${where(leaf.callFrame.url, leaf.callFrame.lineNumber)}`;
    self.set(leafKey, (self.get(leafKey) ?? 0) + ms);
    // Inclusive: every distinct function and area on the stack, once per sample.
    const seenFns = new Set<string>();
    const seenAreas = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id)!;
      const name = node.callFrame.functionName || '(anonymous)';
      if (name === '(root)') break;
      const key = `${name}\t${where(node.callFrame.url, node.callFrame.lineNumber)}`;
      if (!seenFns.has(key)) {
        seenFns.add(key);
        inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
      }
    }
    // Self time by area of the leaf (where the CPU actually was).
    const a = area(leaf.callFrame.url, leafName);
    if (!seenAreas.has(a)) {
      seenAreas.add(a);
      areas.set(a, (areas.get(a) ?? 0) + ms);
    }
  }
  const busy = total - idle;
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((x, y) => y[1] - x[1])
      .slice(0, top)
      .map(([k, ms]) => {
        const [fn, at] = k.split('\t') as [string, string];
        return { fn, at, ms, pct: ms / busy };
      });
  return {
    totalMs: total,
    busyMs: busy,
    selfTop: rows(self),
    inclusiveTop: rows(inclusive).filter((r) => r.fn !== '(program)'),
    areas: [...areas]
      .sort((x, y) => y[1] - x[1])
      .slice(0, 15)
      .map(([a, ms]) => ({ area: a, ms, pct: ms / busy })),
  };
}

/** Where the raw .cpuprofile files are kept after the run (outside the repo; open them in Chrome DevTools). */
const KEEP = join(tmpdir(), 'tributary-profiles');

function readProfile(dir: string, name: string): CpuProfile {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`No .cpuprofile in ${dir}`);
  mkdirSync(KEEP, { recursive: true });
  copyFileSync(join(dir, file), join(KEEP, `${name}.cpuprofile`));
  return JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
}

function render(title: string, s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return `### ${title}

Profiled ${fixed(s.totalMs / 1000, 1)} s, of which the main thread was busy ${fixed(s.busyMs / 1000, 1)} s (the rest idle, waiting for I/O).

Self time by area (where the samples landed; % of busy time):

${table(
  ['area', 'ms', '%'],
  s.areas.map((a) => [a.area, fixed(a.ms, 0), pct(a.pct)]),
)}

Self time, top functions:

${table(
  ['function', 'where', 'ms', '%'],
  s.selfTop.slice(0, 20).map((r) => [`\`${r.fn}\``, r.at, fixed(r.ms, 0), pct(r.pct)]),
  ['l', 'l', 'r', 'r'],
)}

Inclusive time, top functions (the function and what it called):

${table(
  ['function', 'where', 'ms', '%'],
  s.inclusiveTop.slice(0, 20).map((r) => [`\`${r.fn}\``, r.at, fixed(r.ms, 0), pct(r.pct)]),
  ['l', 'l', 'r', 'r'],
)}
`;
}

export async function runProfile(options: { quick: boolean; write: boolean }): Promise<void> {
  const seconds = options.quick ? 3 : 10;
  const shape = { connections: 4, inFlight: 8, maxRecords: 50_000_000, maxSeconds: seconds };
  const nodeArgs = (dir: string) => ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '250'];

  const produceDir = tempDir('prof-produce');
  let broker = await startBroker(nodeArgs(produceDir));
  const pageCache = await measureProduce(
    broker,
    { partitions: 8, acks: 1, compression: 'none', durability: 'page-cache' },
    shape,
  );
  const fsync = await measureProduce(
    broker,
    { partitions: 8, acks: -1, compression: 'none', durability: 'fsync' },
    shape,
  );
  await broker.stop();
  const produce = summarizeProfile(readProfile(produceDir, 'produce'));

  // Filled by an unprofiled broker; the profiled one opens the same data dir and only serves fetches.
  const dataDir = tempDir('prof-data');
  const records = options.quick ? 128_000 : 512_000;
  broker = await startBroker([], dataDir);
  const end = await fillTopic(broker, 'fetch-1', 1, records);
  await broker.stop();
  const fetchDir = tempDir('prof-fetch');
  broker = await startBroker(nodeArgs(fetchDir), dataDir);
  const fetchStart = performance.now();
  let fetched = 0;
  let fetchedSeconds = 0;
  while ((performance.now() - fetchStart) / 1000 < seconds) {
    const t = await measureConsume(broker, 'fetch-1', 1, end, 4, 60);
    fetched += t.records;
    fetchedSeconds += t.seconds;
  }
  await broker.stop();
  const fetch = summarizeProfile(readProfile(fetchDir, 'fetch'));

  const markdown = `## CPU profiles of the hot paths

Command: \`npm run bench -- --profile${options.quick ? ' --quick' : ''}\` (\`node --cpu-prof --cpu-prof-interval 250\` on the built broker).
Machine: ${machine()}.
Produce: 8 partitions, ${RECORDS_PER_BATCH}-record batches of 1 KiB, uncompressed, ${seconds} s at acks=1 page cache
(${Math.round(pageCache.recordsPerSec).toLocaleString('en-US')} records/s) then ${seconds} s at acks=all fdatasync
(${Math.round(fsync.recordsPerSec).toLocaleString('en-US')} records/s), one profile over both plus start-up.
Fetch: ${records.toLocaleString('en-US')} records filled into 1 partition, then read back with 4 readers repeatedly for ${seconds} s
(${Math.round(fetched / fetchedSeconds).toLocaleString('en-US')} records/s); the fill was done by an unprofiled broker on the same data dir.

${render('Produce', produce)}
${render('Fetch', fetch)}`;
  console.log(markdown);
  console.error(`Raw profiles: ${KEEP}/{produce,fetch}.cpuprofile`);
  if (options.write) writeSection('profile', markdown);
}
