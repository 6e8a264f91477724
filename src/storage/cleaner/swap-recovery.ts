import {
  batchBaseOffsetAt,
  batchFramingProblem,
  batchSizeAt,
  lastOffsetDeltaAt,
  SCAN_HEADER_BYTES,
} from '../batches.ts';
import { readFully, type StorageFs } from '../fs.ts';
import {
  CLEANED_FILE_SUFFIX,
  INDEX_FILE_SUFFIX,
  LOG_FILE_SUFFIX,
  parseCleanerFileName,
  parseSegmentFileName,
  SWAP_FILE_SUFFIX,
  segmentFilePath,
  TIME_INDEX_FILE_SUFFIX,
} from '../names.ts';

const SCAN_CHUNK = 1 << 20;

/**
 * Finishes or undoes a cleaner swap (Log.replaceSegments) that a crash interrupted, before
 * the log lists its segments; returns the directory listing afterwards. These are Kafka's
 * rules (LogLoader) for its `.cleaned` and `.swap` files.
 *
 * A swap renames the `.cleaned` files of its new segments to `.swap`, the highest base
 * offset first and its first segment last (the commit point), so:
 * - `.cleaned` files are removed, with every `.swap` file at or above the lowest of their
 *   base offsets: that swap was not committed, and the old segments it would have replaced
 *   are all still there. The `.swap` files go first, so that a crash in the middle of this
 *   still finds the `.cleaned` file next time.
 * - The `.swap` files left are committed. The old segments are those with a base offset
 *   from the lowest swap's up to the offset after the last batch in the swaps (an old
 *   segment whose records were all removed has an empty swap of its own); their files are
 *   removed and each swap is renamed to its segment's `.log`, replacing the old one. Every
 *   step can be repeated, so a crash during recovery is recovered the same way.
 */
export async function completeInterruptedSwap(fsys: StorageFs, dir: string, names: string[]): Promise<string[]> {
  const cleaned = names.filter((n) => n.endsWith(CLEANED_FILE_SUFFIX));
  let swaps: bigint[] = [];
  for (const name of names) {
    const base = parseCleanerFileName(name, SWAP_FILE_SUFFIX);
    if (base !== null) swaps.push(base);
  }
  if (cleaned.length === 0 && swaps.length === 0) return names;
  const swapPath = (base: bigint) => segmentFilePath(dir, base, LOG_FILE_SUFFIX) + SWAP_FILE_SUFFIX;
  if (cleaned.length > 0) {
    let minCleaned: bigint | null = null;
    for (const name of cleaned) {
      const base = parseCleanerFileName(name, CLEANED_FILE_SUFFIX);
      if (base !== null && (minCleaned === null || base < minCleaned)) minCleaned = base;
    }
    const undone = swaps.filter((base) => minCleaned !== null && base >= minCleaned);
    for (const base of undone) await fsys.unlink(swapPath(base));
    if (undone.length > 0) await fsys.syncDir(dir);
    for (const name of cleaned) await fsys.unlink(`${dir}/${name}`);
    await fsys.syncDir(dir);
    swaps = swaps.filter((base) => !undone.includes(base));
    if (swaps.length === 0) return fsys.readdir(dir);
  }
  swaps.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const from = swaps[0]!;
  let to = from;
  for (const base of swaps) {
    const next = await nextOffsetOf(fsys, swapPath(base), base);
    if (next > to) to = next;
  }
  const replaced = new Set(swaps);
  const stale: string[] = [];
  for (const name of names) {
    const parsed = parseSegmentFileName(name);
    if (parsed === null) continue;
    if (
      parsed.suffix !== LOG_FILE_SUFFIX &&
      parsed.suffix !== INDEX_FILE_SUFFIX &&
      parsed.suffix !== TIME_INDEX_FILE_SUFFIX
    ) {
      continue;
    }
    if (replaced.has(parsed.baseOffset) || (parsed.baseOffset >= from && parsed.baseOffset < to)) stale.push(name);
  }
  for (const name of stale) await fsys.unlink(`${dir}/${name}`);
  for (const base of swaps) await fsys.rename(swapPath(base), segmentFilePath(dir, base, LOG_FILE_SUFFIX));
  await fsys.syncDir(dir);
  return fsys.readdir(dir);
}

/**
 * The offset after the last batch of a segment file, `base` when it is empty. A swap file
 * was fsynced before it was committed, so its batches are whole; the walk stops at the
 * first one that is not, all the same.
 */
async function nextOffsetOf(fsys: StorageFs, path: string, base: bigint): Promise<bigint> {
  const file = await fsys.open(path, 'read');
  try {
    const size = await file.size();
    let next = base;
    let pos = 0;
    while (pos < size) {
      const head = await readFully(file, pos, Math.min(SCAN_CHUNK, size - pos));
      let at = 0;
      while (at + SCAN_HEADER_BYTES <= head.length) {
        if (batchFramingProblem(head, at, size - pos) !== null) return next;
        next = batchBaseOffsetAt(head, at) + BigInt(lastOffsetDeltaAt(head, at)) + 1n;
        const batchSize = batchSizeAt(head, at);
        at += batchSize;
        if (at > head.length) break;
      }
      if (at === 0) return next;
      pos += at;
    }
    return next;
  } finally {
    await file.close();
  }
}
