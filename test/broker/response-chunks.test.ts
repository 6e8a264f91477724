/**
 * Responses written as several chunks (Fetch records by reference, see Router.#encode):
 * a response still reaches the client whole, byte for byte, and in request order.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Connection, type FrameOutcome } from '../../src/broker/net/connection.ts';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { FetchRequest, FetchResponse } from '../../src/protocol/generated/messages/fetch.ts';
import { readResponseHeader } from '../../src/protocol/headers.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { batchOf, createTopic, fetchBody, plainRecords, produceOk, sleep } from './data-path/helpers.ts';

const T = { timeout: 30_000 };

/** The response to request i: a size prefix, i, then chunks of sizes that vary with i (some of 1 MiB). */
function chunkedResponse(i: number): Buffer[] {
  const sizes = [1, 7, 40_000, 0, 3, (i % 3) * 512 * 1024, 16 * 1024 + i];
  const chunks = sizes.map((n, k) => Buffer.alloc(n, (i * 31 + k) & 0xff));
  const head = Buffer.alloc(8);
  head.writeInt32BE(4 + chunks.reduce((s, c) => s + c.length, 0), 0);
  head.writeInt32BE(i, 4);
  return [head, ...chunks];
}

function digest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe('multi-chunk responses', () => {
  describe('a Connection', () => {
    let server: Server;
    let port: number;
    const connections: Connection[] = [];
    before(async () => {
      server = createServer((socket) => {
        const limits = {
          maxRequestSize: 1024,
          maxInFlightBytes: 1024 * 1024,
          idleTimeoutMs: 0,
          requestTimeoutMs: 0,
        };
        // Later requests finish first, so responses wait for the ones before them.
        const handle = async (frame: Buffer): Promise<FrameOutcome> => {
          const i = frame.readInt32BE(0);
          await new Promise((resolve) => setTimeout(resolve, (40 - i) % 7));
          return { response: chunkedResponse(i) };
        };
        connections.push(new Connection(socket, limits, handle, () => {}));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    after(async () => {
      for (const c of connections) c.close(null);
      await new Promise((resolve) => server.close(resolve));
    });

    test('writes pipelined multi-chunk responses whole and in request order', T, async () => {
      const socket: Socket = connect({ port, host: '127.0.0.1' });
      await new Promise((resolve) => socket.once('connect', resolve));
      const n = 40;
      const requests: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const frame = Buffer.alloc(8);
        frame.writeInt32BE(4, 0);
        frame.writeInt32BE(i, 4);
        requests.push(frame);
      }
      // A slow reader first, so the broker side meets a full socket buffer (backpressure).
      socket.pause();
      socket.write(Buffer.concat(requests));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const expected = Buffer.concat(Array.from({ length: n }, (_, i) => Buffer.concat(chunkedResponse(i))));
      const received: Buffer[] = [];
      let length = 0;
      await new Promise<void>((resolve, reject) => {
        socket.on('data', (chunk: Buffer) => {
          received.push(chunk);
          length += chunk.length;
          if (length >= expected.length) resolve();
        });
        socket.on('error', reject);
        socket.resume();
      });
      socket.destroy();
      const all = Buffer.concat(received);
      assert.equal(all.length, expected.length);
      // Walk the frames for a readable failure before comparing everything.
      let at = 0;
      for (let i = 0; i < n; i++) {
        assert.equal(all.readInt32BE(at + 4), i, `frame ${i} out of order`);
        at += 4 + all.readInt32BE(at);
      }
      assert.equal(digest(all), digest(expected));
    });
  });

  describe('the broker', () => {
    let broker: StartedBroker;
    let client: RawClient;
    before(async () => {
      broker = await startBroker();
      client = await RawClient.connect(broker.port);
    });
    after(async () => {
      client.close();
      await broker.close();
    });

    test('answers pipelined Fetches of large batches byte for byte, in order', T, async () => {
      await createTopic(broker, 'large-batches');
      const batches: Buffer[] = [];
      const values: string[] = [];
      for (let b = 0; b < 6; b++) {
        const records = Array.from({ length: 20 }, (_, k) => ({ value: `${b}-${k}-`.padEnd(3000 + b * 997, 'x') }));
        values.push(...records.map((r) => r.value));
        const batch = await batchOf(records);
        batches.push(batch);
        await produceOk(client, 'large-batches', 0, batch);
      }
      assert.ok(batches.every((b) => b.length > 60_000));

      // Flexible (compactBytes) and older (bytes) versions, each from every batch's base offset.
      const asks: Array<{ version: number; offset: bigint }> = [];
      for (const version of [4, 11, 12, 16]) for (let b = 0; b < 6; b++) asks.push({ version, offset: BigInt(b * 20) });
      const frames = asks.map((ask, i) => {
        const body = fetchBody([{ topic: 'large-batches', fetchOffset: ask.offset }], { version: ask.version });
        if (ask.version >= 13) {
          body.topics[0]!.topicId = broker.broker.services.topics.get('large-batches')!.topicId;
        }
        return client.frame(FetchRequest, ask.version, body, 1000 + i);
      });
      client.write(Buffer.concat(frames));

      for (let i = 0; i < asks.length; i++) {
        const frame = await client.nextFrame();
        assert.ok(frame);
        const ask = asks[i]!;
        const r = new Reader(frame);
        assert.equal(readResponseHeader(r, FetchRequest.apiKey, ask.version).correlationId, 1000 + i);
        const response = FetchResponse.read(r, ask.version);
        assert.equal(r.remaining, 0);
        const data = response.responses[0]!.partitions[0]!;
        assert.equal(data.errorCode, ErrorCode.NONE);
        const first = Number(ask.offset) / 20;
        // As produced, but for the base offset and leader epoch the broker assigns.
        const records = data.records!;
        let at = 0;
        for (let b = first; b < 6; b++) {
          const batch = batches[b]!;
          assert.equal(records.readBigInt64BE(at), BigInt(b * 20));
          assert.ok(records.subarray(at + 16, at + batch.length).equals(batch.subarray(16)), `batch ${b}`);
          at += batch.length;
        }
        assert.equal(at, records.length);
        assert.deepEqual(
          (await plainRecords(data.records)).map((p) => p.value),
          values.slice(first * 20),
        );
      }
    });

    test(
      'pooled read buffers are reused only after their response was written: many pipelined readers see exact records',
      T,
      async () => {
        await createTopic(broker, 'pooled-reads');
        // 40 batches of 16 records of ~6 KiB: a 512 KiB fetch reads through the pool.
        const values: string[] = [];
        for (let b = 0; b < 40; b++) {
          const records = Array.from({ length: 16 }, (_, k) => ({
            value: `${b * 16 + k}:`.padEnd(6000, String(b % 10)),
          }));
          values.push(...records.map((r) => r.value));
          await produceOk(client, 'pooled-reads', 0, await batchOf(records));
        }
        const pool = broker.broker.services.replicas.readBuffers;
        const reusedBefore = pool.reused;
        const readers = await Promise.all(Array.from({ length: 4 }, () => RawClient.connect(broker.port)));
        try {
          await Promise.all(
            readers.map(async (reader, r) => {
              for (let round = 0; round < 6; round++) {
                // Sixteen fetches in flight at offsets spread over the log, read only after a pause:
                // responses back up behind a full socket and wait in the broker's write queue, still
                // referencing their read buffers, while other readers read.
                const offsets = Array.from({ length: 16 }, (_, i) =>
                  BigInt(((r * 97 + round * 31 + i * 67) % 40) * 16),
                );
                const frames = offsets.map((offset, i) =>
                  reader.frame(
                    FetchRequest,
                    12,
                    fetchBody([{ topic: 'pooled-reads', fetchOffset: offset, partitionMaxBytes: 512 * 1024 }]),
                    i,
                  ),
                );
                reader.write(Buffer.concat(frames));
                await sleep(50);
                for (const offset of offsets) {
                  const frame = await reader.nextFrame();
                  assert.ok(frame);
                  const rd = new Reader(frame);
                  readResponseHeader(rd, FetchRequest.apiKey, 12);
                  const data = FetchResponse.read(rd, 12).responses[0]!.partitions[0]!;
                  assert.equal(data.errorCode, ErrorCode.NONE);
                  const got = (await plainRecords(data.records)).map((p) => p.value);
                  assert.ok(got.length > 0);
                  assert.deepEqual(got, values.slice(Number(offset), Number(offset) + got.length));
                }
              }
            }),
          );
        } finally {
          for (const reader of readers) reader.close();
        }
        assert.ok(pool.reused > reusedBefore, 'the reads went through the pool and reused its buffers');
      },
    );
  });
});
