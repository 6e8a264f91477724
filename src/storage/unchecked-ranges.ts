/**
 * The byte ranges of a segment whose batch CRCs this process has not checked yet: sorted,
 * disjoint [from, to) pairs, on batch boundaries. A segment found on disk starts as one
 * range; reads take out what they checked, wherever they read, so readers spread over a
 * segment (consumers at different offsets) each pay for their part once and only once.
 */
export class UncheckedRanges {
  #ranges: Array<{ from: number; to: number }> = [];

  /** Everything below `size` unchecked. */
  static upTo(size: number): UncheckedRanges {
    const ranges = new UncheckedRanges();
    ranges.reset(size);
    return ranges;
  }

  get isEmpty(): boolean {
    return this.#ranges.length === 0;
  }

  /** How many separate ranges there are (tests look). */
  get count(): number {
    return this.#ranges.length;
  }

  /** Everything below `size` unchecked again (0: nothing). */
  reset(size: number): void {
    this.#ranges = size > 0 ? [{ from: 0, to: size }] : [];
  }

  /** Whether any byte of [from, to) is unchecked. */
  overlaps(from: number, to: number): boolean {
    if (from >= to) return false;
    for (const r of this.#ranges) {
      if (r.from >= to) return false;
      if (r.to > from) return true;
    }
    return false;
  }

  /** Whether the byte at `position` is unchecked. */
  contains(position: number): boolean {
    for (const r of this.#ranges) {
      if (r.from > position) return false;
      if (r.to > position) return true;
    }
    return false;
  }

  /** [from, to) has been checked. */
  remove(from: number, to: number): void {
    if (from >= to) return;
    const out: Array<{ from: number; to: number }> = [];
    for (const r of this.#ranges) {
      if (r.to <= from || r.from >= to) {
        out.push(r);
        continue;
      }
      if (r.from < from) out.push({ from: r.from, to: from });
      if (r.to > to) out.push({ from: to, to: r.to });
    }
    this.#ranges = out;
  }

  /** The file was cut at `position`: nothing at or past it exists any more. */
  truncate(position: number): void {
    this.remove(position, Number.MAX_SAFE_INTEGER);
  }
}
