import { createHash } from 'node:crypto';

/** Keys up to this long are used as they are; longer ones by their MD5 digest, as Kafka's map does for all. */
const MAX_RAW_KEY = 32;
/** Marks a digest, so that it never equals a short key with the same 16 bytes (latin1 has no U+0100). */
const DIGEST_PREFIX = '\u0100';

/** Memory one key of the map costs, about (log.cleaner.dedupe.buffer.size is divided by it). */
export const OFFSET_MAP_BYTES_PER_KEY = 100;

/**
 * The cleaner's map of key → offset of the latest record with that key in the dirty range,
 * Kafka's SkimpyOffsetMap with its dedupe buffer. Bounded by entry count: when the next
 * batch could take it over `maxEntries`, the cleaner stops mapping there and cleans up to
 * that offset only, leaving the rest for the next round.
 *
 * Keys up to 32 bytes are stored exactly; longer keys by MD5 (what Kafka stores for every
 * key), so a collision between two long keys, which would drop the older one's record, is
 * as unlikely as it is in Kafka. Offsets are kept as numbers: exact below 2^53.
 */
export class OffsetMap {
  readonly maxEntries: number;
  readonly #map = new Map<string, number>();

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`Invalid offset map size ${maxEntries}`);
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#map.size;
  }

  /** Whether `records` more keys might not fit. An empty map always takes one batch, however large. */
  wouldOverflow(records: number): boolean {
    return this.#map.size > 0 && this.#map.size + records > this.maxEntries;
  }

  /** Records `offset` for the key `buf[start, end)`; callers put offsets in increasing order, so the last one wins. */
  put(buf: Buffer, start: number, end: number, offset: number): void {
    this.#map.set(mapKey(buf, start, end), offset);
  }

  /** The latest offset of the key `buf[start, end)`, or -1 when it is not in the map. */
  get(buf: Buffer, start: number, end: number): number {
    return this.#map.get(mapKey(buf, start, end)) ?? -1;
  }

  clear(): void {
    this.#map.clear();
  }
}

function mapKey(buf: Buffer, start: number, end: number): string {
  if (end - start <= MAX_RAW_KEY) return buf.toString('latin1', start, end);
  return DIGEST_PREFIX + createHash('md5').update(buf.subarray(start, end)).digest().toString('latin1');
}
