// The machine's ceilings: a Node TCP receiver that does the least a broker could do with
// size-prefixed request frames, and answers each frame with an empty frame (4 zero bytes).
//   discard    acknowledge each frame as soon as its last byte is read
//   file       append every byte to one file (writev of what arrived meanwhile), then acknowledge
//   fdatasync  append as above; fdatasync whenever 1 MiB is unsynced (or nothing more is waiting),
//              acknowledge frames only once a sync covers them
// Usage: node --import tsx bench/ceilings/receiver.ts <mode> [file]; prints "listening <port>".
import { closeSync, fdatasync, openSync, writev } from 'node:fs';
import { createServer, type Socket } from 'node:net';

const mode = process.argv[2] ?? 'discard';
if (mode !== 'discard' && mode !== 'file' && mode !== 'fdatasync') throw new Error(`Unknown mode ${mode}`);
const SYNC_EVERY = 1024 * 1024;
const fd = mode === 'discard' ? -1 : openSync(process.argv[3]!, 'a');

const ACK = Buffer.alloc(4);
const acks = (n: number): Buffer => (n === 1 ? ACK : Buffer.alloc(4 * n));

interface Pending {
  chunk: Buffer;
  socket: Socket;
  frames: number;
}

let queue: Pending[] = [];
let writing = false;
let unsynced = 0;
let unacked: Pending[] = [];

function ackAll(list: Pending[]): void {
  const bySocket = new Map<Socket, number>();
  for (const p of list) if (p.frames > 0) bySocket.set(p.socket, (bySocket.get(p.socket) ?? 0) + p.frames);
  for (const [socket, n] of bySocket) if (!socket.destroyed) socket.write(acks(n));
}

function drain(): void {
  if (writing || queue.length === 0) return;
  writing = true;
  const batch = queue;
  queue = [];
  // writev takes at most IOV_MAX (1024) buffers at once.
  const writeAll = (from: number, done: () => void): void => {
    if (from >= batch.length) {
      done();
      return;
    }
    const part = batch.slice(from, from + 1024);
    writev(
      fd,
      part.map((p) => p.chunk),
      (err) => {
        if (err) throw err;
        writeAll(from + 1024, done);
      },
    );
  };
  writeAll(0, () => {
    for (const p of batch) unsynced += p.chunk.length;
    if (mode === 'file') {
      ackAll(batch);
      writing = false;
      drain();
      return;
    }
    unacked.push(...batch);
    if (unsynced < SYNC_EVERY && queue.length > 0) {
      writing = false;
      drain();
      return;
    }
    fdatasync(fd, (err) => {
      if (err) throw err;
      unsynced = 0;
      const synced = unacked;
      unacked = [];
      ackAll(synced);
      writing = false;
      drain();
    });
  });
}

const server = createServer((socket) => {
  socket.setNoDelay(true);
  // Frame boundaries only: how many frames end in each chunk. The size prefix may straddle chunks.
  let remaining = 0; // body bytes left in the current frame
  let header = Buffer.alloc(0); // partial size prefix
  socket.on('data', (chunk: Buffer) => {
    let frames = 0;
    let pos = 0;
    while (pos < chunk.length) {
      if (remaining > 0) {
        const take = Math.min(remaining, chunk.length - pos);
        remaining -= take;
        pos += take;
        if (remaining === 0) frames++;
        continue;
      }
      const need = 4 - header.length;
      const take = Math.min(need, chunk.length - pos);
      header = Buffer.concat([header, chunk.subarray(pos, pos + take)]);
      pos += take;
      if (header.length === 4) {
        remaining = header.readInt32BE(0);
        header = Buffer.alloc(0);
        if (remaining === 0) frames++;
      }
    }
    if (mode === 'discard') {
      if (frames > 0) socket.write(acks(frames));
      return;
    }
    queue.push({ chunk, socket, frames });
    drain();
  });
  socket.on('error', () => {});
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  if (fd >= 0) closeSync(fd);
  process.exit(0);
});
