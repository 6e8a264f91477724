// Runs the ceiling receiver (receiver.ts) as a child process and drives it with exactly the
// frames, connections and in-flight window our producer uses.
import { join } from 'node:path';
import { KafkaConnection } from '../lib/kafka.ts';
import { type LatencySummary, paced, pipeline, summarize, type Throughput } from '../lib/load.ts';
import { cpuSecondsOf, removeDir, startProcess, tempDir } from '../lib/procs.ts';

export type CeilingMode = 'discard' | 'file' | 'fdatasync';

export const CEILING_LABEL: Record<CeilingMode, string> = {
  discard: 'TCP → discard',
  file: 'TCP → file',
  fdatasync: 'TCP → file + fdatasync/MiB',
};

export interface LoadShape {
  connections: number;
  inFlight: number;
  maxRequests: number;
  maxSeconds: number;
}

async function withReceiver<T>(mode: CeilingMode, fn: (port: number, pid: number) => Promise<T>): Promise<T> {
  const dir = tempDir(`ceiling-${mode}`);
  const { proc, match } = await startProcess(
    process.execPath,
    ['--import', 'tsx', 'bench/ceilings/receiver.ts', mode, join(dir, 'append.log')],
    /listening (\d+)/,
  );
  try {
    return await fn(Number(match[1]), proc.pid);
  } finally {
    await proc.stop();
    removeDir(dir);
  }
}

export interface CeilingResult extends Throughput {
  /** CPU seconds of the receiver per wall second. */
  serverCpu: number;
}

/** Throughput of `frame` (a whole request, e.g. a pre-encoded Produce) into the receiver. */
export function measureCeiling(
  mode: CeilingMode,
  frame: Buffer,
  recordsPerRequest: number,
  shape: LoadShape,
): Promise<CeilingResult> {
  return withReceiver(mode, async (port, pid) => {
    const conns = await Promise.all(Array.from({ length: shape.connections }, () => KafkaConnection.connect(port)));
    try {
      const base = { frameFor: () => frame, recordsPerRequest, inFlight: shape.inFlight };
      // Warm-up: the receiver's JIT and the file's first blocks.
      await pipeline(conns, { ...base, maxRequests: shape.maxRequests, maxSeconds: 0.3 });
      const cpu0 = cpuSecondsOf(pid);
      const result = await pipeline(conns, { ...base, maxRequests: shape.maxRequests, maxSeconds: shape.maxSeconds });
      return { ...result, serverCpu: (cpuSecondsOf(pid) - cpu0) / result.seconds };
    } finally {
      for (const c of conns) c.close();
    }
  });
}

/** Request → acknowledgement latency at a fixed rate of records (in batches, as the latency scenario sends them). */
export function ceilingLatency(
  mode: CeilingMode,
  encode: (records: number) => Buffer,
  ratePerSec: number,
  seconds: number,
): Promise<LatencySummary> {
  return withReceiver(mode, async (port) => {
    const conn = await KafkaConnection.connect(port);
    const samples: number[] = [];
    try {
      await paced(ratePerSec, seconds, (records, done, measured) => {
        const frame = encode(records);
        const t0 = performance.now();
        conn.send(frame, () => {
          const ms = performance.now() - t0;
          if (measured) for (let i = 0; i < records; i++) samples.push(ms);
          done();
        });
      });
      return summarize(samples);
    } finally {
      conn.close();
    }
  });
}
