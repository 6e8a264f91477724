import {
  BatchHeaderOffset,
  CONTROL_FLAG_MASK,
  LOG_OVERHEAD,
  NO_PRODUCER_EPOCH,
  NO_SEQUENCE,
  TRANSACTIONAL_FLAG_MASK,
} from '../protocol/records/batch-header.ts';
import { ControlRecordType, decodeControlRecord } from '../protocol/records/control-record.ts';
import { crc32c } from '../protocol/records/crc32c.ts';
import { decodeRecordBatchSync } from '../protocol/records/record-batch.ts';
import { type StorageFs, writeFileAtomic } from './fs.ts';
import { PRODUCER_SNAPSHOT_FILE_SUFFIX, parseSegmentFileName, segmentFilePath } from './names.ts';
import {
  InvalidProducerEpochError,
  InvalidTxnStateError,
  OutOfOrderSequenceError,
  TransactionCoordinatorFencedError,
} from './producer-state-errors.ts';
import type { AbortedTxn } from './txn-index.ts';

/**
 * Per-partition producer state, Kafka's ProducerStateManager: for every idempotent or
 * transactional producer that wrote to the partition, its epoch, the sequence ranges and
 * offsets of its last five batches (so a retried batch is answered with its first offsets
 * instead of being appended twice), and the first offset of its open transaction (so the
 * last stable offset can be computed).
 *
 * Appends go through a ProducerStateAppend: it checks each batch against the state (epoch,
 * sequence, transaction) and collects the changes, which the log applies once the bytes
 * are written, so a failed write leaves the state as it was.
 *
 * Snapshots (`<offset>.snapshot`) hold the state as of an offset; the log writes one when
 * it rolls a segment and when it closes, and rebuilds the state on open from the newest
 * snapshot plus the batches after it (replay).
 */

/** How many batches per producer are remembered for de-duplication (max.in.flight.requests.per.connection). */
export const NUM_BATCHES_TO_RETAIN = 5;
const INT32_MAX = 0x7fffffff;

/**
 * Who appends: a client's produce request (every check), a broker coordinator (epoch
 * checks only: its batches carry no meaningful sequence), or replication and recovery
 * replay (no checks, the leader already made them).
 */
export type AppendOrigin = 'client' | 'coordinator' | 'replication';

export interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  firstOffset: bigint;
  lastOffset: bigint;
  /** The batch's maxTimestamp. */
  timestamp: number;
}

export interface ProducerStateEntry {
  readonly producerId: bigint;
  producerEpoch: number;
  /** The last batches, oldest first, at most NUM_BATCHES_TO_RETAIN. */
  batches: BatchMetadata[];
  coordinatorEpoch: number;
  /** First offset of the producer's open transaction in this partition, or -1. */
  currentTxnFirstOffset: bigint;
  /** Timestamp of the producer's last batch or marker (what producer.id.expiration.ms counts from). */
  lastTimestamp: number;
}

/** A transaction a marker closed in this partition. */
export interface CompletedTxn {
  producerId: bigint;
  firstOffset: bigint;
  /** Offset of the marker. */
  lastOffset: bigint;
  isAborted: boolean;
}

export function lastSequenceOf(entry: ProducerStateEntry): number {
  return entry.batches.length === 0 ? NO_SEQUENCE : entry.batches[entry.batches.length - 1]!.lastSeq;
}

/** `seq + increment`, wrapping from 2^31-1 to 0 as producers do. */
export function incrementSequence(seq: number, increment: number): number {
  return seq > INT32_MAX - increment ? increment - (INT32_MAX - seq) - 1 : seq + increment;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

function emptyEntry(producerId: bigint): ProducerStateEntry {
  return {
    producerId,
    producerEpoch: NO_PRODUCER_EPOCH,
    batches: [],
    coordinatorEpoch: -1,
    currentTxnFirstOffset: -1n,
    lastTimestamp: -1,
  };
}

function cloneEntry(e: ProducerStateEntry): ProducerStateEntry {
  return { ...e, batches: [...e.batches] };
}

/** Kafka's maybeUpdateProducerEpoch: a new epoch forgets the old epoch's batches. */
function updateEpoch(entry: ProducerStateEntry, epoch: number): void {
  if (entry.producerEpoch === epoch) return;
  entry.batches = [];
  entry.producerEpoch = epoch;
}

type StateEvent = { start: { producerId: bigint; firstOffset: bigint } } | { complete: CompletedTxn };

export class ProducerStateManager {
  readonly topic: string;
  readonly partition: number;
  readonly #producers = new Map<bigint, ProducerStateEntry>();
  /** Open transactions: first offset → producer id, in offset order. */
  #ongoing = new Map<bigint, bigint>();

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  /** The producers with state here (DescribeProducers). */
  get producers(): ReadonlyMap<bigint, ProducerStateEntry> {
    return this.#producers;
  }

  entry(producerId: bigint): ProducerStateEntry | undefined {
    return this.#producers.get(producerId);
  }

  /** The first offset of the oldest open transaction, or null: the last stable offset cannot pass it. */
  get firstUnstableOffset(): bigint | null {
    for (const offset of this.#ongoing.keys()) return offset;
    return null;
  }

  /** Open transactions, oldest first. */
  ongoingTransactions(): Array<{ producerId: bigint; firstOffset: bigint }> {
    return [...this.#ongoing].map(([firstOffset, producerId]) => ({ producerId, firstOffset }));
  }

  /** Starts checking one group of appends; see ProducerStateAppend. */
  begin(): ProducerStateAppend {
    return new ProducerStateAppend(this);
  }

  /**
   * Applies what `append` collected, in order. `onAborted` hears of every aborted
   * transaction with the last stable offset right after its marker (for the txn index).
   */
  commit(append: ProducerStateAppend, onAborted: (txn: AbortedTxn) => void): void {
    for (const [producerId, entry] of append.updated) this.#producers.set(producerId, entry);
    for (const event of append.events) {
      if ('start' in event) {
        this.#ongoing.set(event.start.firstOffset, event.start.producerId);
        continue;
      }
      const txn = event.complete;
      this.#ongoing.delete(txn.firstOffset);
      if (txn.isAborted) {
        const next = this.firstUnstableOffset;
        onAborted({
          producerId: txn.producerId,
          firstOffset: txn.firstOffset,
          lastOffset: txn.lastOffset,
          lastStableOffset: next ?? txn.lastOffset + 1n,
        });
      }
    }
    append.reset();
  }

  /**
   * Forgets producers without an open transaction whose last write is older than
   * `expirationMs` (producer.id.expiration.ms). Returns how many went.
   */
  removeExpired(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [producerId, entry] of this.#producers) {
      if (entry.currentTxnFirstOffset < 0n && nowMs - entry.lastTimestamp >= expirationMs) {
        this.#producers.delete(producerId);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.#producers.clear();
    this.#ongoing.clear();
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * The state as bytes. Layout (Tributary's, version 1; Kafka's own keeps one batch per
   * producer, this keeps all five so de-duplication survives a restart whole):
   * int16 version, uint32 CRC-32C of the rest, int32 count, then per producer: int64 id,
   * int16 epoch, int32 coordinatorEpoch, int64 currentTxnFirstOffset, int64 lastTimestamp,
   * int8 batch count, and per batch int32 firstSeq, int32 lastSeq, int64 firstOffset,
   * int64 lastOffset, int64 timestamp.
   */
  encodeSnapshot(): Buffer {
    let size = 10;
    for (const e of this.#producers.values()) size += 31 + e.batches.length * 32;
    const buf = Buffer.alloc(size);
    buf.writeInt16BE(SNAPSHOT_VERSION, 0);
    buf.writeInt32BE(this.#producers.size, 6);
    let pos = 10;
    for (const e of this.#producers.values()) {
      buf.writeBigInt64BE(e.producerId, pos);
      buf.writeInt16BE(e.producerEpoch, pos + 8);
      buf.writeInt32BE(e.coordinatorEpoch, pos + 10);
      buf.writeBigInt64BE(e.currentTxnFirstOffset, pos + 14);
      buf.writeBigInt64BE(BigInt(e.lastTimestamp), pos + 22);
      buf.writeInt8(e.batches.length, pos + 30);
      pos += 31;
      for (const b of e.batches) {
        buf.writeInt32BE(b.firstSeq, pos);
        buf.writeInt32BE(b.lastSeq, pos + 4);
        buf.writeBigInt64BE(b.firstOffset, pos + 8);
        buf.writeBigInt64BE(b.lastOffset, pos + 16);
        buf.writeBigInt64BE(BigInt(b.timestamp), pos + 24);
        pos += 32;
      }
    }
    buf.writeUInt32BE(crc32c(buf, 6, buf.length), 2);
    return buf;
  }

  /** Replaces the state with a snapshot's; false (state untouched) when the bytes are not a valid snapshot. */
  loadSnapshot(buf: Buffer): boolean {
    if (buf.length < 10 || buf.readInt16BE(0) !== SNAPSHOT_VERSION) return false;
    if (buf.readUInt32BE(2) !== crc32c(buf, 6, buf.length)) return false;
    const producers: ProducerStateEntry[] = [];
    try {
      const count = buf.readInt32BE(6);
      let pos = 10;
      for (let i = 0; i < count; i++) {
        const entry: ProducerStateEntry = {
          producerId: buf.readBigInt64BE(pos),
          producerEpoch: buf.readInt16BE(pos + 8),
          coordinatorEpoch: buf.readInt32BE(pos + 10),
          currentTxnFirstOffset: buf.readBigInt64BE(pos + 14),
          lastTimestamp: Number(buf.readBigInt64BE(pos + 22)),
          batches: [],
        };
        const batches = buf.readInt8(pos + 30);
        pos += 31;
        for (let j = 0; j < batches; j++) {
          entry.batches.push({
            firstSeq: buf.readInt32BE(pos),
            lastSeq: buf.readInt32BE(pos + 4),
            firstOffset: buf.readBigInt64BE(pos + 8),
            lastOffset: buf.readBigInt64BE(pos + 16),
            timestamp: Number(buf.readBigInt64BE(pos + 24)),
          });
          pos += 32;
        }
        producers.push(entry);
      }
      if (pos !== buf.length) return false;
    } catch {
      return false;
    }
    this.clear();
    for (const e of producers) this.#producers.set(e.producerId, e);
    const open = producers.filter((e) => e.currentTxnFirstOffset >= 0n);
    open.sort((a, b) => (a.currentTxnFirstOffset < b.currentTxnFirstOffset ? -1 : 1));
    for (const e of open) this.#ongoing.set(e.currentTxnFirstOffset, e.producerId);
    return true;
  }
}

const SNAPSHOT_VERSION = 1;

/**
 * The checks and changes of one group of appends (Kafka's ProducerAppendInfo, for many
 * producers at once). Each `analyze` sees the state the earlier ones of the group left;
 * an append that fails a check leaves nothing behind. Nothing reaches the manager until
 * ProducerStateManager.commit.
 */
export class ProducerStateAppend {
  readonly #manager: ProducerStateManager;
  /** Entries changed by the group so far (copies; the manager's are untouched). */
  updated = new Map<bigint, ProducerStateEntry>();
  /** Transactions started and completed, in offset order. */
  events: StateEvent[] = [];

  constructor(manager: ProducerStateManager) {
    this.#manager = manager;
  }

  get isEmpty(): boolean {
    return this.updated.size === 0 && this.events.length === 0;
  }

  reset(): void {
    this.updated = new Map();
    this.events = [];
  }

  /**
   * Checks and records the batches of `records` (whole magic-2 batches) placed from
   * `firstOffset` on (null: at the offsets their headers carry, for replicas and replay).
   * Returns the earlier batch a client's retry duplicates (then nothing is recorded and
   * the append must not be written), else null. Throws the errors of
   * producer-state-errors.ts; then nothing of this append is recorded.
   */
  analyze(records: Buffer, firstOffset: bigint | null, origin: AppendOrigin): BatchMetadata | null {
    // Allocated on the first batch with a producer: most appends have none.
    let local: Map<bigint, ProducerStateEntry> | null = null;
    let events: StateEvent[] | null = null;
    const facts = (producerId: bigint) => ({
      topic: this.#manager.topic,
      partition: this.#manager.partition,
      producerId,
    });
    let offset = firstOffset;
    let pos = 0;
    while (pos < records.length) {
      const size = records.readInt32BE(pos + BatchHeaderOffset.BATCH_LENGTH) + LOG_OVERHEAD;
      const delta = records.readInt32BE(pos + BatchHeaderOffset.LAST_OFFSET_DELTA);
      const baseOffset = offset ?? records.readBigInt64BE(pos + BatchHeaderOffset.BASE_OFFSET);
      if (offset !== null) offset += BigInt(delta) + 1n;
      const producerId = records.readBigInt64BE(pos + BatchHeaderOffset.PRODUCER_ID);
      const at = pos;
      pos += size;
      if (producerId < 0n) continue;
      const epoch = records.readInt16BE(at + BatchHeaderOffset.PRODUCER_EPOCH);
      const attributes = records.readInt16BE(at + BatchHeaderOffset.ATTRIBUTES);
      const timestamp = Number(records.readBigInt64BE(at + BatchHeaderOffset.MAX_TIMESTAMP));
      local ??= new Map();
      events ??= [];
      const current = local.get(producerId) ?? this.updated.get(producerId) ?? this.#manager.entry(producerId);
      const checkEpoch = (entry: ProducerStateEntry | undefined) => {
        if (entry !== undefined && epoch < entry.producerEpoch && origin !== 'replication') {
          throw new InvalidProducerEpochError({ ...facts(producerId), epoch, currentEpoch: entry.producerEpoch });
        }
      };

      if ((attributes & CONTROL_FLAG_MASK) !== 0) {
        const marker = transactionMarkerOf(records.subarray(at, at + size));
        if (marker === null) continue;
        checkEpoch(current);
        if (current !== undefined && current.coordinatorEpoch > marker.coordinatorEpoch && origin !== 'replication') {
          throw new TransactionCoordinatorFencedError({
            ...facts(producerId),
            coordinatorEpoch: marker.coordinatorEpoch,
            currentCoordinatorEpoch: current.coordinatorEpoch,
          });
        }
        const entry = current === undefined ? emptyEntry(producerId) : cloneEntry(current);
        // A marker without data here closes nothing: it does not move the last stable offset.
        if (entry.currentTxnFirstOffset >= 0n) {
          events.push({
            complete: {
              producerId,
              firstOffset: entry.currentTxnFirstOffset,
              lastOffset: baseOffset,
              isAborted: marker.type === ControlRecordType.ABORT,
            },
          });
        }
        updateEpoch(entry, epoch);
        entry.currentTxnFirstOffset = -1n;
        entry.coordinatorEpoch = marker.coordinatorEpoch;
        entry.lastTimestamp = timestamp;
        local.set(producerId, entry);
        continue;
      }

      const firstSeq = records.readInt32BE(at + BatchHeaderOffset.BASE_SEQUENCE);
      const lastSeq = incrementSequence(firstSeq, delta);
      if (origin === 'client' && current !== undefined && current.producerEpoch === epoch) {
        const duplicate = current.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
        if (duplicate !== undefined) return duplicate;
      }
      checkEpoch(current);
      if (origin === 'client') checkSequence(current, epoch, firstSeq, facts(producerId));
      const entry = current === undefined ? emptyEntry(producerId) : cloneEntry(current);
      updateEpoch(entry, epoch);
      if (entry.batches.length === NUM_BATCHES_TO_RETAIN) entry.batches.shift();
      entry.batches.push({
        firstSeq,
        lastSeq,
        firstOffset: baseOffset,
        lastOffset: baseOffset + BigInt(delta),
        timestamp,
      });
      entry.lastTimestamp = timestamp;
      const transactional = (attributes & TRANSACTIONAL_FLAG_MASK) !== 0;
      if (entry.currentTxnFirstOffset >= 0n && !transactional && origin !== 'replication') {
        throw new InvalidTxnStateError(facts(producerId));
      }
      if (entry.currentTxnFirstOffset < 0n && transactional) {
        entry.currentTxnFirstOffset = baseOffset;
        events.push({ start: { producerId, firstOffset: baseOffset } });
      }
      local.set(producerId, entry);
    }
    if (local === null || events === null) return null;
    for (const [producerId, entry] of local) this.updated.set(producerId, entry);
    this.events.push(...events);
    return null;
  }
}

/**
 * Kafka's checkSequence. A producer the partition knows nothing about (new, or its state
 * expired or was removed with its records) may start at any sequence: since KIP-360 Kafka
 * accepts it rather than answering UNKNOWN_PRODUCER_ID, which made clients re-send and
 * duplicate. A known producer must continue its sequence in its epoch, and start a new
 * epoch at 0.
 */
function checkSequence(
  current: ProducerStateEntry | undefined,
  epoch: number,
  firstSeq: number,
  facts: { topic: string; partition: number; producerId: bigint },
): void {
  const currentEpoch = current?.producerEpoch ?? NO_PRODUCER_EPOCH;
  if (current === undefined || currentEpoch === NO_PRODUCER_EPOCH) return;
  if (epoch !== currentEpoch) {
    if (firstSeq !== 0) {
      throw new OutOfOrderSequenceError({ ...facts, sequence: firstSeq, lastSequence: -1, epoch, newEpoch: true });
    }
    return;
  }
  const lastSeq = lastSequenceOf(current);
  if (!inSequence(lastSeq, firstSeq)) {
    throw new OutOfOrderSequenceError({ ...facts, sequence: firstSeq, lastSequence: lastSeq, epoch, newEpoch: false });
  }
}

/** The COMMIT/ABORT marker of a control batch, or null (empty after cleaning, or another control type). */
function transactionMarkerOf(batch: Buffer): { type: number; coordinatorEpoch: number } | null {
  try {
    const record = decodeRecordBatchSync(batch, { verifyCrc: false }).records[0];
    if (record === undefined) return null;
    const control = decodeControlRecord(record);
    if (control.type !== ControlRecordType.ABORT && control.type !== ControlRecordType.COMMIT) return null;
    return { type: control.type, coordinatorEpoch: control.coordinatorEpoch ?? 0 };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- snapshot files and replay

/** Base offsets of the `.snapshot` files among a directory's names, newest first. */
export function snapshotOffsets(names: readonly string[]): bigint[] {
  const out: bigint[] = [];
  for (const name of names) {
    const parsed = parseSegmentFileName(name);
    if (parsed !== null && parsed.suffix === PRODUCER_SNAPSHOT_FILE_SUFFIX) out.push(parsed.baseOffset);
  }
  return out.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
}

/** How many snapshots a log keeps: the newest covers recovery, older ones a truncation below it. */
const SNAPSHOTS_TO_KEEP = 3;

/**
 * The snapshot files of one log: writes them atomically, loads the newest valid one, and
 * removes old ones. Assumes the owning Log calls it from its serial queue.
 */
export class ProducerSnapshots {
  readonly #fs: StorageFs;
  readonly #dir: string;
  /** Offsets of the snapshot files on disk, newest first. */
  #offsets: bigint[];

  constructor(fsys: StorageFs, dir: string, names: readonly string[]) {
    this.#fs = fsys;
    this.#dir = dir;
    this.#offsets = snapshotOffsets(names);
  }

  get offsets(): readonly bigint[] {
    return this.#offsets;
  }

  /** Writes the state as of `offset` (durable when it resolves) and keeps the newest few files. */
  async write(offset: bigint, manager: ProducerStateManager): Promise<void> {
    await writeFileAtomic(this.#fs, this.#path(offset), manager.encodeSnapshot());
    this.#offsets = [offset, ...this.#offsets.filter((o) => o !== offset)].sort((a, b) => (a > b ? -1 : 1));
    for (const old of this.#offsets.splice(SNAPSHOTS_TO_KEEP)) await this.#fs.unlink(this.#path(old));
  }

  /**
   * Loads the newest snapshot at or below `maxOffset` into `manager` and returns its
   * offset; null (state cleared) when there is none. Files above `maxOffset` and files
   * that do not read back are deleted.
   */
  async loadLatest(manager: ProducerStateManager, maxOffset: bigint): Promise<bigint | null> {
    manager.clear();
    for (const offset of [...this.#offsets]) {
      if (offset <= maxOffset) {
        const bytes = await this.#fs.readFile(this.#path(offset));
        if (bytes !== null && manager.loadSnapshot(bytes)) return offset;
      }
      this.#offsets = this.#offsets.filter((o) => o !== offset);
      await this.#fs.unlink(this.#path(offset));
    }
    return null;
  }

  /** Removes every snapshot (the log was emptied). */
  async clear(): Promise<void> {
    for (const offset of this.#offsets.splice(0)) await this.#fs.unlink(this.#path(offset));
  }

  /** Removes snapshots below `offset`, keeping at least the newest one (retention moved the log start). */
  async deleteBelow(offset: bigint): Promise<void> {
    const keep = this.#offsets.filter((o, i) => i === 0 || o >= offset);
    for (const o of this.#offsets) if (!keep.includes(o)) await this.#fs.unlink(this.#path(o));
    this.#offsets = keep;
  }

  #path(offset: bigint): string {
    return segmentFilePath(this.#dir, offset, PRODUCER_SNAPSHOT_FILE_SUFFIX);
  }
}

/**
 * Rebuilds producer state from `from` to `to` by reading the batches the log holds there
 * (recovery: after the newest snapshot). `read` returns whole batches starting with the
 * one that holds an offset, empty at the end; `segmentBaseOf` names the segment of an
 * offset, for the txn index entries of aborts met on the way.
 */
export async function replayProducerState(options: {
  manager: ProducerStateManager;
  from: bigint;
  to: bigint;
  read: (offset: bigint) => Promise<Buffer>;
  segmentBaseOf: (offset: bigint) => bigint;
  onAborted: (segmentBase: bigint, txn: AbortedTxn) => void;
}): Promise<void> {
  const { manager, to } = options;
  let offset = options.from;
  const append = manager.begin();
  while (offset < to) {
    const records = await options.read(offset);
    if (records.length === 0) return;
    let pos = 0;
    while (pos + LOG_OVERHEAD <= records.length) {
      const size = records.readInt32BE(pos + BatchHeaderOffset.BATCH_LENGTH) + LOG_OVERHEAD;
      if (pos + size > records.length) break;
      const batch = records.subarray(pos, pos + size);
      pos += size;
      const base = batch.readBigInt64BE(BatchHeaderOffset.BASE_OFFSET);
      const last = base + BigInt(batch.readInt32BE(BatchHeaderOffset.LAST_OFFSET_DELTA));
      if (last < offset) continue;
      if (base >= to) return;
      append.analyze(batch, null, 'replication');
      const segmentBase = options.segmentBaseOf(base);
      manager.commit(append, (txn) => options.onAborted(segmentBase, txn));
      offset = last + 1n;
    }
    if (pos === 0) return;
  }
}
