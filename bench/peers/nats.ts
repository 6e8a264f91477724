// NATS JetStream as a peer: nats-server -js from Debian on loopback with its store in a temp
// dir, file storage, driven by a small pipelined client of the NATS text protocol: PUB with a
// reply subject for each 1 KiB record (JetStream answers each with a PubAck), pushed to
// the same connections with the same records in flight as our producer.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { type Throughput, throughput } from '../lib/load.ts';
import { type Child, freePort, removeDir, startProcess, tempDir } from '../lib/procs.ts';

export function natsAvailable(): boolean {
  return spawnSync('nats-server', ['--version']).status === 0;
}

export function natsVersion(): string {
  return (spawnSync('nats-server', ['--version']).stdout?.toString() ?? '').trim().replace(/^nats-server: /, '');
}

export interface NatsServer extends Child {
  port: number;
  dir: string;
  close(): Promise<void>;
}

export async function startNats(): Promise<NatsServer> {
  const dir = tempDir('nats');
  const port = await freePort();
  const config = join(dir, 'nats.conf');
  // 2.9 has no sync_interval / sync: always (2.10+): the file store writes each message to
  // the OS and fsyncs on its own 2-minute timer. max_payload stays at its 1 MiB default.
  writeFileSync(
    config,
    `listen: 127.0.0.1:${port}\nmax_pending: 256MB\njetstream { store_dir: "${join(dir, 'js')}" }\n`,
  );
  const { proc } = await startProcess('nats-server', ['-c', config], /Server is ready/);
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

interface Message {
  subject: string;
  reply: string;
  headers: string;
  payload: Buffer;
}

/** A NATS protocol connection: PUB/SUB, MSG/HMSG delivery to handlers by subscription id. */
export class NatsConnection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #subs = new Map<number, (m: Message) => void>();
  #nextSid = 1;
  #pongs: Array<() => void> = [];
  error: string | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<NatsConnection> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
      s.once('error', reject);
    });
    const conn = new NatsConnection(socket);
    socket.write(
      'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1,"name":"bench"}\r\n',
    );
    await conn.flush();
    return conn;
  }

  /** PING/PONG round trip: everything written before was processed by the server. */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      this.#pongs.push(resolve);
      this.#socket.write('PING\r\n');
    });
  }

  subscribe(subject: string, handler: (m: Message) => void): number {
    const sid = this.#nextSid++;
    this.#subs.set(sid, handler);
    this.#socket.write(`SUB ${subject} ${sid}\r\n`);
    return sid;
  }

  write(bytes: Buffer | string): void {
    this.#socket.write(bytes);
  }

  /** A JetStream API request: one reply. */
  async request(subject: string, body: unknown): Promise<Record<string, unknown>> {
    const inbox = `_INBOX.req.${this.#nextSid}`;
    const reply = new Promise<Message>((resolve) => {
      const sid = this.subscribe(inbox, (m) => {
        this.#subs.delete(sid);
        this.#socket.write(`UNSUB ${sid}\r\n`);
        resolve(m);
      });
    });
    const payload = Buffer.from(JSON.stringify(body));
    this.#socket.write(Buffer.concat([Buffer.from(`PUB ${subject} ${inbox} ${payload.length}\r\n`), payload, CRLF]));
    const m = await reply;
    const json = JSON.parse(m.payload.toString()) as Record<string, unknown>;
    if (json.error) throw new Error(`${subject}: ${JSON.stringify(json.error)}`);
    return json;
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    let pos = 0;
    const buf = this.#buffer;
    for (;;) {
      const eol = buf.indexOf('\r\n', pos);
      if (eol < 0) break;
      const line = buf.toString('latin1', pos, eol);
      if (line.startsWith('MSG ') || line.startsWith('HMSG ')) {
        const parts = line.split(' ');
        const isH = parts[0] === 'HMSG';
        const total = Number(parts[parts.length - 1]);
        const hdr = isH ? Number(parts[parts.length - 2]) : 0;
        const nArgs = parts.length - (isH ? 3 : 2); // subject sid [reply]
        if (buf.length < eol + 2 + total + 2) break;
        const body = buf.subarray(eol + 2, eol + 2 + total);
        pos = eol + 2 + total + 2;
        this.#subs.get(Number(parts[2]))?.({
          subject: parts[1]!,
          reply: nArgs === 3 ? parts[3]! : '',
          headers: isH ? body.toString('latin1', 0, hdr) : '',
          payload: body.subarray(hdr),
        });
        continue;
      }
      pos = eol + 2;
      if (line === 'PING') this.#socket.write('PONG\r\n');
      else if (line === 'PONG') this.#pongs.shift()?.();
      else if (line.startsWith('-ERR')) this.error = line;
    }
    this.#buffer = buf.subarray(pos);
  }
}

const CRLF = Buffer.from('\r\n');

export interface NatsLoad {
  streams: number;
  records: number;
  connections: number;
  /** Blocks of `blockSize` messages in flight per connection. */
  inFlight: number;
  blockSize: number;
  maxSeconds: number;
  values: Buffer[];
}

export async function createStreams(port: number, streams: number): Promise<void> {
  const admin = await NatsConnection.connect(port);
  for (let s = 0; s < streams; s++) {
    await admin.request(`$JS.API.STREAM.CREATE.S${s}`, {
      name: `S${s}`,
      subjects: [`bench.${s}`],
      storage: 'file',
      num_replicas: 1,
      retention: 'limits',
      discard: 'old',
      max_msgs: -1,
      max_bytes: -1,
      max_age: 0,
    });
  }
  admin.close();
}

/** Publishes `records` 1 KiB messages to JetStream streams S0..S<n-1>, each awaiting its PubAck. */
export async function publishThroughput(port: number, load: NatsLoad): Promise<Throughput> {
  await createStreams(port, load.streams);
  const conns = await Promise.all(Array.from({ length: load.connections }, () => NatsConnection.connect(port)));
  try {
    const blocks = Array.from({ length: load.streams }, (_, s) =>
      conns.map((_c, c) =>
        Buffer.concat(
          load.values
            .slice(0, load.blockSize)
            .flatMap((v) => [Buffer.from(`PUB bench.${s} _INBOX.pub${c}.a ${v.length}\r\n`), v, CRLF]),
        ),
      ),
    );
    const totalBlocks = Math.ceil(load.records / load.blockSize);
    return await new Promise<Throughput>((resolve, reject) => {
      const start = performance.now();
      const deadline = start + load.maxSeconds * 1000;
      let sent = 0;
      let done = 0;
      let failed = false;
      const acked = conns.map(() => 0);
      const next = (c: number): void => {
        if (failed) return;
        if (sent >= totalBlocks || performance.now() > deadline) {
          if (done === sent) {
            const seconds = (performance.now() - start) / 1000;
            resolve(throughput(done, done * load.blockSize, done * blocks[0]![0]!.length, seconds));
          }
          return;
        }
        conns[c]!.write(blocks[sent++ % load.streams]![c]!);
      };
      conns.forEach((conn, c) => {
        // PubAcks for one connection come back in publish order; a block is done at its last ack.
        conn.subscribe(`_INBOX.pub${c}.*`, (m) => {
          if (failed) return;
          if (m.headers.includes('503') || m.payload.includes('"error"')) {
            failed = true;
            reject(new Error(`JetStream publish failed: ${m.headers} ${m.payload.toString()}`));
            return;
          }
          if (++acked[c]! % load.blockSize === 0) {
            done++;
            next(c);
          }
        });
      });
      Promise.all(conns.map((c) => c.flush())).then(() => {
        for (let c = 0; c < conns.length; c++) for (let i = 0; i < load.inFlight; i++) next(c);
      }, reject);
    });
  } finally {
    for (const c of conns) c.close();
  }
}

/**
 * Reads every message of the streams back through a push consumer per stream (ack policy
 * none, deliver all, flow control answered), `maxSeconds` at most.
 */
export async function consumeThroughput(port: number, streams: number, maxSeconds: number): Promise<Throughput> {
  const conns = await Promise.all(Array.from({ length: streams }, () => NatsConnection.connect(port)));
  try {
    const start = performance.now();
    let records = 0;
    let bytes = 0;
    await Promise.all(
      conns.map(async (conn, s) => {
        const info = await conn.request(`$JS.API.STREAM.INFO.S${s}`, {});
        const total = Number((info.state as { messages: number }).messages);
        if (total === 0) return;
        let got = 0;
        const finished = new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, maxSeconds * 1000);
          conn.subscribe(`_INBOX.push${s}`, (m) => {
            if (m.headers.startsWith('NATS/1.0 100')) {
              // Flow control request or idle heartbeat: answer the former.
              if (m.reply) conn.write(`PUB ${m.reply} 0\r\n\r\n`);
              return;
            }
            got++;
            records++;
            bytes += m.payload.length;
            if (got >= total) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        await conn.flush();
        await conn.request(`$JS.API.CONSUMER.CREATE.S${s}`, {
          stream_name: `S${s}`,
          config: {
            deliver_subject: `_INBOX.push${s}`,
            deliver_policy: 'all',
            ack_policy: 'none',
            flow_control: true,
            idle_heartbeat: 5_000_000_000,
            max_ack_pending: -1,
          },
        });
        await finished;
      }),
    );
    return throughput(records, records, bytes, (performance.now() - start) / 1000);
  } finally {
    for (const c of conns) c.close();
  }
}
