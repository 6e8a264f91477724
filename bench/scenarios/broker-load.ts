// Our broker under load: produce throughput, consume throughput and end-to-end latency, driven
// by the pipelined raw-protocol generator (bench/lib) with batches encoded once, up front.
import {
  checkProduceResponse,
  createTopics,
  decodeFetchResponse,
  deleteTopics,
  fetchFrame,
  KafkaConnection,
  produceFrame,
  walkBatches,
} from '../lib/kafka.ts';
import {
  encodeBatch,
  type LatencySummary,
  paced,
  pipeline,
  RECORDS_PER_BATCH,
  summarize,
  type Throughput,
  throughput,
} from '../lib/load.ts';
import { type BrokerChild, cpuSecondsOf, sampleRss } from '../lib/procs.ts';

/** Kafka's own default: acknowledge after the write, leave flushing to the OS. */
export const PAGE_CACHE = { 'flush.messages': '9223372036854775807' } as const;

export type Durability = 'page-cache' | 'fsync';

export interface ProduceCase {
  partitions: number;
  acks: 1 | -1;
  compression: 'none' | 'lz4';
  /** Topic config: page-cache (flush.messages=Long.MAX, as Kafka) or our default (fdatasync before the ack). */
  durability: Durability;
}

export function caseLabel(c: ProduceCase): string {
  const store = c.durability === 'fsync' ? 'fdatasync before ack (default)' : 'page cache';
  return `${c.partitions} partition${c.partitions > 1 ? 's' : ''}, acks=${c.acks === -1 ? 'all' : c.acks}, ${c.compression}, ${store}`;
}

export interface Shape {
  connections: number;
  inFlight: number;
  maxRecords: number;
  maxSeconds: number;
}

export interface BrokerThroughput extends Throughput {
  /** Broker CPU seconds per wall second (1.0 = one core busy). */
  brokerCpu: number;
  /** Load generator CPU seconds per wall second. */
  driverCpu: number;
  peakRss: number;
}

let topicCounter = 0;

async function measured(broker: BrokerChild, fn: () => Promise<Throughput>): Promise<BrokerThroughput> {
  const rss = sampleRss(broker.pid);
  const cpu0 = cpuSecondsOf(broker.pid);
  const self0 = process.cpuUsage();
  const result = await fn();
  const self = process.cpuUsage(self0);
  return {
    ...result,
    brokerCpu: (cpuSecondsOf(broker.pid) - cpu0) / result.seconds,
    driverCpu: (self.user + self.system) / 1e6 / result.seconds,
    peakRss: rss.stop(),
  };
}

/** The frames a case sends: one pre-encoded Produce per partition, each one batch of 64 records. */
export function produceFrames(topic: string, c: Pick<ProduceCase, 'partitions' | 'acks' | 'compression'>): Buffer[] {
  const batch = encodeBatch(RECORDS_PER_BATCH, c.compression);
  return Array.from({ length: c.partitions }, (_, p) => produceFrame(topic, [p], batch, c.acks));
}

/** Produces into a fresh topic for the case, then deletes it (so runs do not fill the disk). */
export async function measureProduce(broker: BrokerChild, c: ProduceCase, shape: Shape): Promise<BrokerThroughput> {
  const topic = `produce-${++topicCounter}`;
  const admin = await KafkaConnection.connect(broker.port);
  await createTopics(admin, [
    { name: topic, partitions: c.partitions, configs: c.durability === 'page-cache' ? PAGE_CACHE : {} },
  ]);
  const frames = produceFrames(topic, c);
  const conns = await Promise.all(
    Array.from({ length: shape.connections }, () => KafkaConnection.connect(broker.port)),
  );
  try {
    const base = {
      frameFor: (conn: number, seq: number) => frames[(conn + seq) % frames.length]!,
      recordsPerRequest: RECORDS_PER_BATCH,
      inFlight: shape.inFlight,
      check: (f: Buffer) => void checkProduceResponse(f),
    };
    await pipeline(conns, { ...base, maxRequests: 1_000_000, maxSeconds: 0.3 }); // warm-up
    return await measured(broker, () =>
      pipeline(conns, {
        ...base,
        maxRequests: Math.ceil(shape.maxRecords / RECORDS_PER_BATCH),
        maxSeconds: shape.maxSeconds,
      }),
    );
  } finally {
    for (const conn of conns) conn.close();
    await deleteTopics(admin, [topic]);
    admin.close();
  }
}

/** Fills `topic` (created here, page-cache config) with `records` per partition; returns the end offset of each. */
export async function fillTopic(broker: BrokerChild, topic: string, partitions: number, records: number) {
  const admin = await KafkaConnection.connect(broker.port);
  await createTopics(admin, [{ name: topic, partitions, configs: PAGE_CACHE }]);
  admin.close();
  const frames = produceFrames(topic, { partitions, acks: 1, compression: 'none' });
  const conns = await Promise.all(Array.from({ length: partitions }, () => KafkaConnection.connect(broker.port)));
  const perPartition = Math.ceil(records / RECORDS_PER_BATCH);
  // One connection per partition so that each partition gets exactly `perPartition` batches.
  await Promise.all(
    conns.map((conn, p) =>
      pipeline([conn], {
        frameFor: () => frames[p]!,
        recordsPerRequest: RECORDS_PER_BATCH,
        inFlight: 8,
        maxRequests: perPartition,
        maxSeconds: 300,
        check: (f) => void checkProduceResponse(f),
      }),
    ),
  );
  for (const c of conns) c.close();
  return BigInt(perPartition * RECORDS_PER_BATCH);
}

/** Fetches each consume reader keeps in flight on its connection. */
export const CONSUME_IN_FLIGHT = 4;

/**
 * Reads partitions 0..n-1 of `topic` from offset 0 to `end` with `readersPerPartition`
 * connections per partition, each over its own slice of offsets, 1 MiB per partition per
 * fetch (Kafka's max.partition.fetch.bytes default). Each reader pipelines: it keeps
 * CONSUME_IN_FLIGHT fetches outstanding at the offsets the first fetch's stride predicts;
 * each fetch owns the range up to the next one and asks again for whatever part of its
 * range did not fit, so every record is counted exactly once whatever the batch layout.
 */
export async function measureConsume(
  broker: BrokerChild,
  topic: string,
  partitions: number,
  end: bigint,
  readersPerPartition: number,
  maxSeconds: number,
): Promise<BrokerThroughput> {
  const slices: Array<{ partition: number; from: bigint; until: bigint }> = [];
  for (let p = 0; p < partitions; p++) {
    for (let r = 0; r < readersPerPartition; r++) {
      slices.push({
        partition: p,
        from: (end * BigInt(r)) / BigInt(readersPerPartition),
        until: (end * BigInt(r + 1)) / BigInt(readersPerPartition),
      });
    }
  }
  const conns = await Promise.all(slices.map(() => KafkaConnection.connect(broker.port)));
  try {
    return await measured(broker, async () => {
      const start = performance.now();
      const deadline = start + maxSeconds * 1000;
      let records = 0;
      let bytes = 0;
      let requests = 0;
      const fetchRange = async (conn: KafkaConnection, partition: number, lo: bigint, hi: bigint) => {
        const frame = fetchFrame([{ topic, partition, offset: lo }], 1024 * 1024);
        const [fetched] = decodeFetchResponse(await conn.request(frame));
        requests++;
        const seen = walkBatches(fetched!.records, lo, hi);
        if (seen.next === null || seen.next <= lo) {
          throw new Error(`Fetch of ${topic}-${partition} at ${lo} returned no whole batch`);
        }
        records += seen.records;
        bytes += seen.bytes;
        return seen.next;
      };
      await Promise.all(
        slices.map(async (slice, i) => {
          const conn = conns[i]!;
          // The first fetch tells how many offsets one fetch covers.
          const first = await fetchRange(conn, slice.partition, slice.from, slice.until);
          const stride = first - slice.from;
          let cursor = first;
          const worker = async () => {
            while (cursor < slice.until && performance.now() < deadline) {
              let lo = cursor;
              let hi = lo + stride;
              if (hi > slice.until) hi = slice.until;
              cursor = hi;
              while (lo < hi && performance.now() < deadline) lo = await fetchRange(conn, slice.partition, lo, hi);
            }
          };
          await Promise.all(Array.from({ length: CONSUME_IN_FLIGHT }, worker));
        }),
      );
      return throughput(requests, records, bytes, (performance.now() - start) / 1000);
    });
  } finally {
    for (const c of conns) c.close();
  }
}

/**
 * The latency consumer's max.partition.fetch.bytes: large, so that after a stall (this
 * machine is shared) one fetch catches up rather than 1 MiB per round trip; the consumer
 * must not be what the latency measures.
 */
export const LATENCY_FETCH_BYTES = 16 * 1024 * 1024;

/**
 * End-to-end latency on one partition: a producer sends batches at `ratePerSec` (every
 * millisecond what is due, the send time in each record's key), a consumer long-polls from
 * the start; each record's latency is its arrival at the consumer minus its send time.
 */
export async function measureLatency(
  broker: BrokerChild,
  c: Pick<ProduceCase, 'acks' | 'durability'>,
  ratePerSec: number,
  seconds: number,
): Promise<LatencySummary> {
  const topic = `latency-${++topicCounter}`;
  const admin = await KafkaConnection.connect(broker.port);
  await createTopics(admin, [{ name: topic, partitions: 1, configs: c.durability === 'page-cache' ? PAGE_CACHE : {} }]);
  const producer = await KafkaConnection.connect(broker.port);
  const consumer = await KafkaConnection.connect(broker.port);
  const samples: number[] = [];
  // One producer connection and one partition: the i-th batch in the log is the i-th sent,
  // so the consumer pairs batches with send times by position and decodes nothing.
  const sent: Array<{ at: number; records: number; measured: boolean }> = [];
  let consumedBatches = 0;
  let consuming = true;
  const frames = new Map<number, Buffer>();
  const frameOf = (n: number): Buffer => {
    let frame = frames.get(n);
    if (frame === undefined) {
      frame = produceFrame(topic, [0], encodeBatch(n), c.acks);
      frames.set(n, frame);
    }
    return frame;
  };
  const consumed = (async () => {
    let offset = 0n;
    while (consuming) {
      const [fetched] = decodeFetchResponse(
        await consumer.request(fetchFrame([{ topic, partition: 0, offset }], LATENCY_FETCH_BYTES, 100, 1)),
      );
      const now = performance.now();
      const records = fetched!.records;
      let pos = 0;
      while (records.length - pos >= 61) {
        const size = records.readInt32BE(pos + 8) + 12;
        if (records.length - pos < size) break;
        const count = records.readInt32BE(pos + 23) + 1;
        const batch = sent[consumedBatches++];
        if (batch === undefined || batch.records !== count) {
          throw new Error(`Latency: batch ${consumedBatches - 1} holds ${count} records, ${batch?.records} were sent`);
        }
        if (batch.measured) for (let i = 0; i < count; i++) samples.push(now - batch.at);
        offset = records.readBigInt64BE(pos) + BigInt(count);
        pos += size;
      }
    }
  })();
  try {
    await paced(ratePerSec, seconds, (n, done, measured) => {
      const frame = frameOf(n);
      sent.push({ at: performance.now(), records: n, measured });
      producer.send(frame, (f) => {
        if (f !== null) checkProduceResponse(f);
        done();
      });
    });
    // Let the consumer catch up with the last batches.
    await new Promise((r) => setTimeout(r, 300));
    return summarize(samples);
  } finally {
    consuming = false;
    await consumed.catch(() => {});
    producer.close();
    consumer.close();
    await deleteTopics(admin, [topic]);
    admin.close();
  }
}
