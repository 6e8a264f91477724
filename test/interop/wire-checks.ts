/**
 * Checks shared by the interop tests: what a real client sent must decode with our codecs,
 * leave no bytes behind, and encode back to the very same bytes; every record batch in a
 * Produce request must pass its CRC, decode, and re-encode byte for byte.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { API_BY_KEY, ApiKey, type ProduceRequest, Writer, writeRequestHeader } from '../../src/protocol/index.ts';
import {
  BatchHeaderOffset,
  batchCrcValid,
  COMPRESSION_CODEC_MASK,
  CompressionCodec,
  DEFAULT_MAX_DECOMPRESSED_SIZE,
  decodeRecordBatch,
  decompress,
  encodeRecordBatch,
  LOG_OVERHEAD,
  RECORD_BATCH_OVERHEAD,
  type RecordBatch,
  recordOffset,
  recordTimestamp,
  splitRecordBatches,
  updateBatchCrc,
} from '../../src/protocol/records/index.ts';
import type { CapturedRequest } from '../helpers/capture-server.ts';

/**
 * Every captured frame decodes (header and body) with nothing left over, and encoding the
 * decoded header and body in the same version gives back exactly the bytes the client sent.
 */
export function assertFramesRoundTrip(requests: readonly CapturedRequest[]): void {
  assert.ok(requests.length > 0, 'No requests were captured');
  for (const request of requests) {
    const what = `${request.apiName} v${request.apiVersion} (correlation id ${request.correlationId})`;
    assert.equal(request.decodeError, undefined, `${what} does not decode: ${request.decodeError?.message}`);
    assert.equal(request.trailingBytes, 0, `${what} leaves ${request.trailingBytes} bytes after its body`);
    const api = API_BY_KEY.get(request.apiKey)!;
    const w = new Writer();
    writeRequestHeader(w, request.header);
    assert.equal(w.offset, request.bodyOffset, `${what}: the request header re-encodes to a different size`);
    api.request.write(w, request.body, request.apiVersion);
    assert.equal(w.toBuffer().toString('hex'), request.frame.toString('hex'), `${what} re-encodes differently`);
  }
}

/** One record as a test states it: strings for keys, values and headers, absolute offset and time. */
export interface PlainRecord {
  offsetDelta: number;
  timestamp: bigint;
  key: string | null;
  value: string | null;
  headers: Array<[string, string | null]>;
}

export interface ProducedBatch {
  topic: string;
  partition: number;
  /** acks of the Produce request that carried the batch. */
  acks: number;
  /** The batch exactly as the client sent it. */
  bytes: Buffer;
  batch: RecordBatch;
  compression: number;
  records: PlainRecord[];
}

/**
 * Every record batch of every captured Produce request, in the order sent, each one
 * checked with assertBatchRoundTrips first.
 */
export async function producedBatches(requests: readonly CapturedRequest[]): Promise<ProducedBatch[]> {
  const out: ProducedBatch[] = [];
  for (const request of requests) {
    if (request.apiKey !== ApiKey.Produce) continue;
    const produce = request.body as ProduceRequest;
    for (const topic of produce.topicData) {
      for (const partition of topic.partitionData) {
        assert.ok(partition.records !== null, `Produce to ${topic.name}/${partition.index} has null records`);
        const { batches, partialTailBytes } = splitRecordBatches(partition.records);
        assert.equal(partialTailBytes, 0, `Produce to ${topic.name}/${partition.index} ends with a partial batch`);
        for (const bytes of batches) {
          const batch = await assertBatchRoundTrips(bytes);
          out.push({
            topic: topic.name,
            partition: partition.index,
            acks: produce.acks,
            bytes,
            batch,
            compression: batch.attributes & COMPRESSION_CODEC_MASK,
            records: batch.records.map((r) => ({
              offsetDelta: Number(recordOffset(batch, r) - batch.baseOffset),
              timestamp: recordTimestamp(batch, r),
              key: r.key === null ? null : r.key.toString('utf8'),
              value: r.value === null ? null : r.value.toString('utf8'),
              headers: r.headers.map((h): [string, string | null] => [h.key, h.value?.toString('utf8') ?? null]),
            })),
          });
        }
      }
    }
  }
  return out;
}

/**
 * A batch from a client: its CRC verifies, it decodes, and it encodes back to the same bytes.
 * Our compressors need not write the same stream as the client's (zlib settings, lz4 frame
 * flags and snappy framing all vary), so a compressed batch is checked in two halves: the
 * decompressed records section re-encodes identically, and the decoded header fields with
 * the client's own compressed section rebuild the batch byte for byte.
 */
export async function assertBatchRoundTrips(bytes: Buffer): Promise<RecordBatch> {
  assert.ok(batchCrcValid(bytes), `Batch CRC does not verify: ${bytes.toString('hex')}`);
  const batch = await decodeRecordBatch(bytes);
  const codec = batch.attributes & COMPRESSION_CODEC_MASK;
  if (codec === CompressionCodec.None) {
    assert.equal(
      (await encodeRecordBatch(batch)).toString('hex'),
      bytes.toString('hex'),
      'Batch re-encodes differently',
    );
    return batch;
  }
  const compressedSection = bytes.subarray(RECORD_BATCH_OVERHEAD);
  const recordsSection = await decompress(codec, compressedSection, { maxSize: DEFAULT_MAX_DECOMPRESSED_SIZE });
  const uncompressed = await encodeRecordBatch({ ...batch, attributes: batch.attributes & ~COMPRESSION_CODEC_MASK });
  assert.equal(
    uncompressed.subarray(RECORD_BATCH_OVERHEAD).toString('hex'),
    recordsSection.toString('hex'),
    `Records of a batch with codec ${codec} re-encode differently`,
  );
  const rebuilt = withRecordsSection(uncompressed, batch.attributes, compressedSection);
  assert.equal(rebuilt.toString('hex'), bytes.toString('hex'), `Batch with codec ${codec} does not rebuild`);
  return batch;
}

/** The header of `batch` over another records section: attributes, length and CRC adjusted. */
function withRecordsSection(batch: Buffer, attributes: number, section: Buffer): Buffer {
  const out = Buffer.concat([batch.subarray(0, RECORD_BATCH_OVERHEAD), section]);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BatchHeaderOffset.BATCH_LENGTH);
  out.writeInt16BE(attributes, BatchHeaderOffset.ATTRIBUTES);
  updateBatchCrc(out);
  return out;
}

// ---------------------------------------------------------------------------- kcat

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Whether `kcat` runs here; the path is whatever PATH finds. */
export function kcatInstalled(): boolean {
  const probe = spawnSync('kcat', ['-V'], { stdio: 'ignore', timeout: 5_000 });
  return probe.error === undefined && probe.status === 0;
}

/**
 * Runs kcat with `input` on stdin. It is killed (SIGKILL) after `timeoutMs`, which the
 * result reports, so a kcat stuck retrying a broker cannot hang the test run.
 */
export function runKcat(args: readonly string[], input: string, timeoutMs = 20_000): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => {}); // kcat may exit before reading all of stdin
    child.stdin.end(input);
  });
}
