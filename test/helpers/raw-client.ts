import { connect, type Socket } from 'node:net';
import type { MessageCodec } from '../../src/protocol/codec.ts';
import { readResponseHeader, writeRequestHeader } from '../../src/protocol/headers.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';

/** A request frame (size prefix included) around an already encoded body. */
export function requestFrame(apiKey: number, version: number, body: Buffer, correlationId: number): Buffer {
  const w = new Writer();
  w.int32(0);
  writeRequestHeader(w, { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: 'raw-test' });
  w.raw(body);
  const bytes = Buffer.from(w.toBuffer());
  bytes.writeInt32BE(bytes.length - 4, 0);
  return bytes;
}

/**
 * A bare Kafka protocol client for tests: sends requests encoded with our codecs and reads
 * raw frames, so tests can check exactly what the broker answers (or that it closes).
 */
export class RawClient {
  readonly socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: Array<(frame: Buffer | null) => void> = [];
  #frames: Buffer[] = [];
  #closed = false;
  #correlationId = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      while (this.#buffer.length >= 4) {
        const size = this.#buffer.readInt32BE(0);
        if (this.#buffer.length < 4 + size) break;
        const frame = this.#buffer.subarray(4, 4 + size);
        this.#buffer = this.#buffer.subarray(4 + size);
        const waiter = this.#waiters.shift();
        if (waiter) waiter(frame);
        else this.#frames.push(frame);
      }
    });
    socket.on('close', () => {
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w(null);
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Encodes a request frame (size prefix included). */
  frame<T>(codec: MessageCodec<T>, version: number, body: T, correlationId = ++this.#correlationId): Buffer {
    const w = new Writer();
    w.int32(0);
    writeRequestHeader(w, {
      requestApiKey: codec.apiKey,
      requestApiVersion: version,
      correlationId,
      clientId: 'raw-test',
    });
    codec.write(w, body, version);
    const bytes = Buffer.from(w.toBuffer());
    bytes.writeInt32BE(bytes.length - 4, 0);
    return bytes;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next response frame (without its size prefix), or null if the connection closed. */
  nextFrame(timeoutMs = 5_000): Promise<Buffer | null> {
    const ready = this.#frames.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`No response within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push((frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
    });
  }

  /** Sends one request and decodes its response. */
  async request<Req, Res>(
    api: { request: MessageCodec<Req>; response: MessageCodec<Res> },
    version: number,
    body: Req,
  ): Promise<{ correlationId: number; body: Res }> {
    const correlationId = ++this.#correlationId;
    this.write(this.frame(api.request, version, body, correlationId));
    const frame = await this.nextFrame();
    if (frame === null) throw new Error('Connection closed before the response');
    const r = new Reader(frame);
    const header = readResponseHeader(r, api.request.apiKey, version);
    const decoded = api.response.read(r, version);
    if (r.remaining !== 0) throw new Error(`${r.remaining} trailing bytes after ${api.response.name}`);
    return { correlationId: header.correlationId, body: decoded };
  }

  /** Resolves once the broker has closed the connection (rejects after the timeout). */
  waitClosed(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Connection still open after ${timeoutMs} ms`)), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
