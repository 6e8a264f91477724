// Records and the pipelined load generator shared by our scenarios and the ceilings.
import { CompressionCodec } from '../../src/protocol/records/batch-header.ts';
import { createRecordBatch, encodeRecordBatchSync } from '../../src/protocol/records/record-batch.ts';

export const RECORD_SIZE = 1024;
export const RECORDS_PER_BATCH = 64;

const WORDS = (
  'order customer item price quantity status shipped pending region north south east west ' +
  'account event click view session user device mobile desktop tablet country city amount ' +
  'currency total discount coupon payment card wallet refund created updated deleted id'
).split(' ');

/**
 * A 1 KiB record value: JSON-like text from a small vocabulary with random numbers, so lz4
 * finds about what it finds in application events (neither random bytes nor zeros).
 */
export function recordValue(seed: number): Buffer {
  let x = seed * 2654435761 + 1;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  let text = `{"seq":${seed}`;
  while (text.length < RECORD_SIZE - 40) {
    text += `,"${WORDS[Math.floor(rand() * WORDS.length)]}":${Math.floor(rand() * 1e6)}`;
  }
  return Buffer.from(`${text},"pad":"${'x'.repeat(RECORD_SIZE - text.length - 10)}"}`.slice(0, RECORD_SIZE));
}

const VALUES = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => recordValue(i));

export function values(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => VALUES[i % VALUES.length]!);
}

/** One encoded magic-2 batch of `count` 1 KiB records, as a non-idempotent producer sends it. */
export function encodeBatch(count = RECORDS_PER_BATCH, compression: 'none' | 'lz4' = 'none'): Buffer {
  const batch = createRecordBatch(
    values(count).map((value) => ({ value })),
    { compression: compression === 'lz4' ? CompressionCodec.Lz4 : CompressionCodec.None },
  );
  return encodeRecordBatchSync(batch);
}

/** What the generator needs of a connection: send a frame, get its response frame back in order. */
export interface Sender {
  send(frame: Buffer, cb: (response: Buffer | null) => void): void;
}

export interface PipelineOptions {
  /** The frame connection `conn` sends as its `seq`-th request. */
  frameFor(conn: number, seq: number): Buffer;
  /** Records each request carries. */
  recordsPerRequest: number;
  maxRequests: number;
  maxSeconds: number;
  /** Requests in flight per connection. */
  inFlight: number;
  /** Throws if a response reports a failure. */
  check?(response: Buffer): void;
}

export interface Throughput {
  requests: number;
  records: number;
  /** Request bytes sent and acknowledged. */
  bytes: number;
  seconds: number;
  recordsPerSec: number;
  mibPerSec: number;
}

export function throughput(requests: number, records: number, bytes: number, seconds: number): Throughput {
  return {
    requests,
    records,
    bytes,
    seconds,
    recordsPerSec: records / seconds,
    mibPerSec: bytes / seconds / 2 ** 20,
  };
}

/**
 * Keeps `inFlight` requests outstanding on every connection until `maxRequests` were sent
 * in all or `maxSeconds` passed, then waits for the outstanding ones. The frames are
 * encoded before the clock starts, so the generator only writes and counts.
 */
export function pipeline(conns: Sender[], options: PipelineOptions): Promise<Throughput> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const deadline = start + options.maxSeconds * 1000;
    let sent = 0;
    let done = 0;
    let bytes = 0;
    let failed = false;
    const seqs = conns.map(() => 0);
    const next = (c: number): void => {
      if (failed || sent >= options.maxRequests || performance.now() > deadline) {
        if (done === sent) {
          const seconds = (performance.now() - start) / 1000;
          resolve(throughput(done, done * options.recordsPerRequest, bytes, seconds));
        }
        return;
      }
      const frame = options.frameFor(c, seqs[c]!++);
      sent++;
      conns[c]!.send(frame, (response) => {
        if (failed) return;
        try {
          if (response === null) throw new Error('Connection closed with requests in flight');
          options.check?.(response);
        } catch (err) {
          failed = true;
          reject(err);
          return;
        }
        done++;
        bytes += frame.length;
        next(c);
      });
    };
    for (let c = 0; c < conns.length; c++) for (let i = 0; i < options.inFlight; i++) next(c);
  });
}

/** Percentile of sorted values (nearest rank). */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export function summarize(samplesMs: number[]): LatencySummary {
  const sorted = Float64Array.from(samplesMs).sort();
  return {
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

/**
 * Sends records at a fixed rate for `warmup` + `seconds`: every millisecond tick, what is due
 * goes out in batches of up to RECORDS_PER_BATCH (as a producer with linger.ms=1 would).
 * `send` reports whether the batch falls in the measured part; resolves when all were answered.
 */
export function paced(
  ratePerSec: number,
  seconds: number,
  send: (records: number, done: () => void, measured: boolean) => void,
  warmup = 0.5,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let sentRecords = 0;
    let outstanding = 0;
    let stopped = false;
    const done = () => {
      outstanding--;
      if (stopped && outstanding === 0) {
        clearTimeout(guard);
        resolve();
      }
    };
    let guard: NodeJS.Timeout | undefined;
    const timer = setInterval(() => {
      const elapsed = (performance.now() - start) / 1000;
      if (elapsed >= warmup + seconds) {
        clearInterval(timer);
        stopped = true;
        if (outstanding === 0) resolve();
        else guard = setTimeout(() => reject(new Error(`${outstanding} batches unanswered after 30 s`)), 30_000);
        return;
      }
      let due = Math.floor(ratePerSec * elapsed) - sentRecords;
      while (due > 0) {
        const n = Math.min(due, RECORDS_PER_BATCH);
        outstanding++;
        sentRecords += n;
        due -= n;
        send(n, done, elapsed >= warmup);
      }
    }, 1);
  });
}
