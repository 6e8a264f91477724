// Scale: many partitions created and written, many connections open at once, on a fresh broker.
import { readdirSync } from 'node:fs';
import {
  apiVersions,
  checkProduceResponse,
  createTopics,
  KafkaConnection,
  metadata,
  produceFrame,
} from '../lib/kafka.ts';
import { encodeBatch, percentile } from '../lib/load.ts';
import { type BrokerChild, rssOf, sleep } from '../lib/procs.ts';

export interface ScaleResult {
  partitions: number;
  topics: number;
  createMs: number;
  writeMs: number;
  recordsWritten: number;
  rssAfterPartitions: number;
  openFds: number;
  connections: number;
  connectMs: number;
  rssWithConnections: number;
  metadataAllMs: number;
  metadataP99Ms: number;
  produceAllMs: number;
  rssAfterClose: number;
}

function fds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

/** `partitions` spread over topics of 1,000 (or fewer), each written once; then `connections` at once. */
export async function measureScale(
  broker: BrokerChild,
  partitions: number,
  connections: number,
  recordsPerPartition: number,
): Promise<ScaleResult> {
  const perTopic = Math.min(partitions, 1000);
  const topics = Array.from({ length: Math.ceil(partitions / perTopic) }, (_, i) => `scale-${i}`);
  const admin = await KafkaConnection.connect(broker.port);
  let t0 = performance.now();
  await createTopics(
    admin,
    topics.map((name) => ({ name, partitions: perTopic })),
  );
  const createMs = performance.now() - t0;

  // One Produce per topic carrying a batch for each of its partitions, acks=all, on 4 connections.
  const batch = encodeBatch(recordsPerPartition);
  const writers = await Promise.all([0, 1, 2, 3].map(() => KafkaConnection.connect(broker.port)));
  t0 = performance.now();
  await Promise.all(
    topics.map(async (topic, i) => {
      const frame = produceFrame(
        topic,
        Array.from({ length: perTopic }, (_, p) => p),
        batch,
        -1,
      );
      checkProduceResponse(await writers[i % writers.length]!.request(frame));
    }),
  );
  const writeMs = performance.now() - t0;
  for (const w of writers) w.close();
  await sleep(500);
  const rssAfterPartitions = rssOf(broker.pid);
  const openFds = fds(broker.pid);

  // Connections: opened in waves of 100, each answering ApiVersions before it counts.
  t0 = performance.now();
  const conns: KafkaConnection[] = [];
  while (conns.length < connections) {
    const wave = await Promise.all(
      Array.from({ length: Math.min(100, connections - conns.length) }, async () => {
        const c = await KafkaConnection.connect(broker.port);
        await apiVersions(c);
        return c;
      }),
    );
    conns.push(...wave);
  }
  const connectMs = performance.now() - t0;
  await sleep(500);
  const rssWithConnections = rssOf(broker.pid);

  // Every connection asks for metadata at once; then every connection produces one batch at once.
  t0 = performance.now();
  const times = await Promise.all(
    conns.map(async (c) => {
      const s = performance.now();
      await metadata(c, [topics[0]!]);
      return performance.now() - s;
    }),
  );
  const metadataAllMs = performance.now() - t0;
  times.sort((a, b) => a - b);
  const small = encodeBatch(1);
  t0 = performance.now();
  await Promise.all(
    conns.map(async (c, i) =>
      checkProduceResponse(await c.request(produceFrame(topics[0]!, [i % perTopic], small, -1))),
    ),
  );
  const produceAllMs = performance.now() - t0;
  for (const c of conns) c.close();
  admin.close();
  await sleep(1000);
  return {
    partitions: perTopic * topics.length,
    topics: topics.length,
    createMs,
    writeMs,
    recordsWritten: perTopic * topics.length * recordsPerPartition,
    rssAfterPartitions,
    openFds,
    connections,
    connectMs,
    rssWithConnections,
    metadataAllMs,
    metadataP99Ms: percentile(times, 99),
    produceAllMs,
    rssAfterClose: rssOf(broker.pid),
  };
}
