// Redis Streams as a peer: redis-server from Debian on loopback in a temp dir, AOF on, driven
// by a small pipelined RESP client (XADD to append, XRANGE to read) with the same 1 KiB
// values, the same connections and the same records in flight as our producer.
import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { type Throughput, throughput } from '../lib/load.ts';
import { type Child, freePort, removeDir, startProcess, tempDir } from '../lib/procs.ts';

export function redisAvailable(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

export function redisVersion(): string {
  const out = spawnSync('redis-server', ['--version']).stdout?.toString() ?? '';
  return /v=(\S+)/.exec(out)?.[1] ?? 'unknown';
}

export interface RedisServer extends Child {
  port: number;
  dir: string;
  close(): Promise<void>;
}

/** `fsync`: 'always' (fsync of the AOF before replies) or 'everysec'. */
export async function startRedis(fsync: 'always' | 'everysec'): Promise<RedisServer> {
  const dir = tempDir('redis');
  const port = await freePort();
  const { proc } = await startProcess(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      fsync,
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--io-threads',
      '1',
    ],
    /Ready to accept connections/,
  );
  return {
    ...proc,
    port,
    dir,
    async close() {
      await proc.stop();
      removeDir(dir);
    },
  };
}

type Resp = string | number | Buffer | null | Error | Resp[];

type Token = { kind: 'value'; value: Resp; end: number } | { kind: 'array'; n: number; end: number };

/** One RESP2 token at `pos`: a whole scalar, or the header of an array; null if incomplete. */
function token(buf: Buffer, pos: number): Token | null {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const type = buf[pos]!;
  const line = buf.toString('latin1', pos + 1, eol);
  switch (type) {
    case 0x2b: // +
      return { kind: 'value', value: line, end: eol + 2 };
    case 0x2d: // -
      return { kind: 'value', value: new Error(line), end: eol + 2 };
    case 0x3a: // :
      return { kind: 'value', value: Number(line), end: eol + 2 };
    case 0x24: {
      // $
      const n = Number(line);
      if (n < 0) return { kind: 'value', value: null, end: eol + 2 };
      if (buf.length < eol + 2 + n + 2) return null;
      return { kind: 'value', value: buf.subarray(eol + 2, eol + 2 + n), end: eol + 2 + n + 2 };
    }
    case 0x2a: {
      // *
      const n = Number(line);
      if (n <= 0) return { kind: 'value', value: n < 0 ? null : [], end: eol + 2 };
      return { kind: 'array', n, end: eol + 2 };
    }
    default:
      throw new Error(`Bad RESP type byte ${type} at ${pos}`);
  }
}

/** A pipelined RESP connection: replies come back in command order. */
export class RedisConnection {
  readonly #socket: Socket;
  readonly #waiting: Array<(value: Resp) => void> = [];
  #buffer: Buffer = Buffer.alloc(0);
  readonly #stack: Array<{ items: Resp[]; n: number }> = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    // A resumable parser: a 1 MiB XRANGE reply arrives in many reads and is parsed once.
    socket.on('data', (chunk: Buffer) => {
      const buf = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      let pos = 0;
      for (;;) {
        const t = token(buf, pos);
        if (t === null) break;
        pos = t.end;
        if (t.kind === 'array') {
          this.#stack.push({ items: [], n: t.n });
          continue;
        }
        let value = t.value;
        for (;;) {
          const top = this.#stack[this.#stack.length - 1];
          if (top === undefined) {
            this.#waiting.shift()?.(value);
            break;
          }
          top.items.push(value);
          if (top.items.length < top.n) break;
          this.#stack.pop();
          value = top.items;
        }
      }
      this.#buffer = buf.subarray(pos);
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RedisConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' }, () => resolve(new RedisConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes pre-encoded commands; `cb` gets each of the `count` replies. */
  write(bytes: Buffer, count: number, cb: (value: Resp) => void): void {
    for (let i = 0; i < count; i++) this.#waiting.push(cb);
    this.#socket.write(bytes);
  }

  command(...args: Array<string | Buffer>): Promise<Resp> {
    return new Promise((resolve, reject) =>
      this.write(encodeCommand(args), 1, (v) => (v instanceof Error ? reject(v) : resolve(v))),
    );
  }

  close(): void {
    this.#socket.destroy();
  }
}

export function encodeCommand(args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

export interface PeerLoad {
  streams: number;
  /** Records in all. */
  records: number;
  connections: number;
  /** Blocks of `blockSize` commands in flight per connection. */
  inFlight: number;
  blockSize: number;
  maxSeconds: number;
  values: Buffer[];
}

/** XADD `records` 1 KiB entries (one field "v") spread over `streams` keys, pipelined in blocks. */
export async function xaddThroughput(port: number, load: PeerLoad): Promise<Throughput> {
  const conns = await Promise.all(Array.from({ length: load.connections }, () => RedisConnection.connect(port)));
  try {
    const blocks = Array.from({ length: load.streams }, (_, s) =>
      Buffer.concat(load.values.slice(0, load.blockSize).map((v) => encodeCommand(['XADD', `bench${s}`, '*', 'v', v]))),
    );
    const totalBlocks = Math.ceil(load.records / load.blockSize);
    return await new Promise<Throughput>((resolve, reject) => {
      const start = performance.now();
      const deadline = start + load.maxSeconds * 1000;
      let sent = 0;
      let done = 0;
      let failed = false;
      const next = (c: number): void => {
        if (failed) return;
        if (sent >= totalBlocks || performance.now() > deadline) {
          if (done === sent) {
            const seconds = (performance.now() - start) / 1000;
            resolve(throughput(done, done * load.blockSize, done * blocks[0]!.length, seconds));
          }
          return;
        }
        const block = blocks[sent++ % blocks.length]!;
        let replies = 0;
        conns[c]!.write(block, load.blockSize, (v) => {
          if (v instanceof Error && !failed) {
            failed = true;
            reject(v);
          }
          if (++replies === load.blockSize) {
            done++;
            next(c);
          }
        });
      };
      for (let c = 0; c < conns.length; c++) for (let i = 0; i < load.inFlight; i++) next(c);
    });
  } finally {
    for (const c of conns) c.close();
  }
}

/**
 * Reads every entry of `streams` keys with XRANGE … COUNT `count`, `readersPerStream`
 * readers per key each over its own slice of the id range (as our consumer splits a
 * partition's offsets), one command in flight per reader.
 */
export async function xrangeThroughput(
  port: number,
  streams: number,
  readersPerStream: number,
  count: number,
  maxSeconds: number,
): Promise<Throughput> {
  const admin = await RedisConnection.connect(port);
  const ranges: Array<{ key: string; lo: string; hi: string }> = [];
  for (let s = 0; s < streams; s++) {
    const key = `bench${s}`;
    const first = (await admin.command('XRANGE', key, '-', '+', 'COUNT', '1')) as Resp[][];
    const last = (await admin.command('XREVRANGE', key, '+', '-', 'COUNT', '1')) as Resp[][];
    if (first.length === 0) continue;
    const lo = Number(String(first[0]![0]).split('-')[0]);
    const hi = Number(String(last[0]![0]).split('-')[0]);
    for (let r = 0; r < readersPerStream; r++) {
      const a = lo + Math.floor(((hi - lo + 1) * r) / readersPerStream);
      const b = lo + Math.floor(((hi - lo + 1) * (r + 1)) / readersPerStream) - 1;
      if (b < a) continue;
      ranges.push({ key, lo: `${a}-0`, hi: `${b}-18446744073709551615` });
    }
  }
  admin.close();
  const conns = await Promise.all(ranges.map(() => RedisConnection.connect(port)));
  try {
    const start = performance.now();
    const deadline = start + maxSeconds * 1000;
    let records = 0;
    let bytes = 0;
    let requests = 0;
    await Promise.all(
      ranges.map(async (range, i) => {
        let lo = range.lo;
        while (performance.now() < deadline) {
          const entries = (await conns[i]!.command(
            'XRANGE',
            range.key,
            lo,
            range.hi,
            'COUNT',
            String(count),
          )) as Resp[][];
          requests++;
          if (entries.length === 0) break;
          records += entries.length;
          for (const e of entries) bytes += ((e[1] as Buffer[])[1] as Buffer).length;
          lo = `(${String(entries[entries.length - 1]![0])}`;
          if (entries.length < count) break;
        }
      }),
    );
    return throughput(requests, records, bytes, (performance.now() - start) / 1000);
  } finally {
    for (const c of conns) c.close();
  }
}

/** Entries in all `streams` keys (to check a run wrote what it claims). */
export async function streamLength(port: number, streams: number): Promise<number> {
  const conn = await RedisConnection.connect(port);
  let n = 0;
  for (let s = 0; s < streams; s++) n += Number(await conn.command('XLEN', `bench${s}`));
  conn.close();
  return n;
}

export function redisRss(server: RedisServer): Promise<number> {
  return RedisConnection.connect(server.port).then(async (c) => {
    const info = String(await c.command('INFO', 'memory'));
    c.close();
    return Number(/used_memory_rss:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  });
}

/** Cross-check with Redis's own C load generator: XADD of the same value, pipelined. */
export function redisBenchmark(port: number, records: number, connections: number, pipeline: number, value: Buffer) {
  const t0 = performance.now();
  const out = spawnSync(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-n',
      String(records),
      '-c',
      String(connections),
      '-P',
      String(pipeline),
      '-q',
      'XADD',
      'rb',
      '*',
      'v',
      value.toString('latin1'),
    ],
    { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const seconds = (performance.now() - t0) / 1000;
  const text = out.stdout?.toString() ?? '';
  const rps = Number(/([\d.]+) requests per second/.exec(text)?.[1] ?? Number.NaN);
  return {
    recordsPerSec: rps,
    seconds,
    command: `redis-benchmark -n ${records} -c ${connections} -P ${pipeline} -q XADD rb '*' v <1 KiB>`,
  };
}
