import { type StorageFs, writeFileAtomic } from '../fs.ts';
import { isValidTopicName } from '../names.ts';

const VERSION = 0;

export interface CheckpointEntry {
  topic: string;
  partition: number;
  offset: bigint;
}

/**
 * Kafka's OffsetCheckpointFile format, as in `cleaner-offset-checkpoint`:
 *
 * ```
 * 0                 version
 * 2                 number of entries
 * orders 0 1234     topic, partition, offset
 * __consumer_offsets 7 88
 * ```
 */
export function formatCheckpoint(entries: Iterable<CheckpointEntry>): Buffer {
  const lines = [...entries].map((e) => `${e.topic} ${e.partition} ${e.offset}`);
  return Buffer.from(`${VERSION}\n${lines.length}\n${lines.map((l) => `${l}\n`).join('')}`, 'utf8');
}

/**
 * Parses a checkpoint file; null when it is not one (then the cleaner starts over, which
 * only costs work: a missing entry means "clean from the log start").
 */
export function parseCheckpoint(bytes: Buffer): CheckpointEntry[] | null {
  const lines = bytes.toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length < 2 || lines[0]!.trim() !== String(VERSION) || !/^[0-9]+$/.test(lines[1]!.trim())) return null;
  const count = Number(lines[1]!.trim());
  if (lines.length !== count + 2) return null;
  const entries: CheckpointEntry[] = [];
  for (const line of lines.slice(2)) {
    const parts = line.trim().split(' ');
    if (parts.length !== 3 || !isValidTopicName(parts[0]!)) return null;
    if (!/^[0-9]{1,10}$/.test(parts[1]!) || !/^[0-9]{1,19}$/.test(parts[2]!)) return null;
    entries.push({ topic: parts[0]!, partition: Number(parts[1]), offset: BigInt(parts[2]!) });
  }
  return entries;
}

export async function readCheckpointFile(fsys: StorageFs, path: string): Promise<CheckpointEntry[]> {
  const bytes = await fsys.readFile(path);
  return bytes === null ? [] : (parseCheckpoint(bytes) ?? []);
}

/** Replaces the file atomically (temp file, fdatasync, rename, directory fsync). */
export function writeCheckpointFile(fsys: StorageFs, path: string, entries: Iterable<CheckpointEntry>): Promise<void> {
  return writeFileAtomic(fsys, path, formatCheckpoint(entries));
}
