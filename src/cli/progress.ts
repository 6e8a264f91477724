/** What the bar writes to: a stream that may be a terminal. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/**
 * A one-line progress bar redrawn in place, for long work such as producing a file. It only
 * draws when the stream is a terminal, at most every `intervalMs`, so pipes and logs never
 * see escape codes.
 */
export class ProgressBar {
  readonly #stream: ProgressStream;
  /** Bytes (a file's size) or items (records to read); may grow as more becomes known. */
  total: number;
  readonly #unit: 'bytes' | 'items';
  readonly #label: string;
  readonly #intervalMs: number;
  readonly #started: number;
  readonly #now: () => number;
  #lastDraw = 0;
  #drawn = false;
  done = 0;
  count = 0;

  constructor(
    stream: ProgressStream,
    total: number,
    options: { label?: string; unit?: 'bytes' | 'items'; intervalMs?: number; now?: () => number } = {},
  ) {
    this.#stream = stream;
    this.total = total;
    this.#unit = options.unit ?? 'bytes';
    this.#label = options.label ?? 'records';
    this.#intervalMs = options.intervalMs ?? 100;
    this.#now = options.now ?? (() => performance.now());
    this.#started = this.#now();
  }

  get enabled(): boolean {
    return this.#stream.isTTY === true;
  }

  /** Records that `done` (bytes or items, of `total`) and `count` items are through; redraws when it is time. */
  update(done: number, count: number): void {
    this.done = done;
    this.count = count;
    if (!this.enabled) return;
    const now = this.#now();
    if (this.#drawn && now - this.#lastDraw < this.#intervalMs) return;
    this.#lastDraw = now;
    this.#draw(now);
  }

  render(now = this.#now()): string {
    const fraction = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const seconds = Math.max((now - this.#started) / 1000, 1e-3);
    const rate = Math.round(this.count / seconds).toLocaleString('en-US');
    const count = this.count.toLocaleString('en-US');
    const amount =
      this.#unit === 'bytes'
        ? `${count} ${this.#label}  ${humanBytes(this.done)}/${humanBytes(this.total)}`
        : `${count}/${this.total.toLocaleString('en-US')} ${this.#label}`;
    const info = ` ${String(Math.floor(fraction * 100)).padStart(3)}%  ${amount}  ${rate}/s`;
    const width = Math.max(10, Math.min(40, (this.#stream.columns ?? 80) - info.length - 3));
    const full = Math.round(fraction * width);
    return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]${info}`;
  }

  #draw(now: number): void {
    this.#stream.write(`\r\x1b[2K${this.render(now)}`);
    this.#drawn = true;
  }

  /** Draws the final state and clears the line, so the summary that follows starts clean. */
  finish(): void {
    if (!this.enabled || !this.#drawn) return;
    this.#stream.write('\r\x1b[2K');
  }
}
