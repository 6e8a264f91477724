import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** socket.request.max.bytes: a larger length prefix closes the connection before any buffering. */
  maxRequestSize: number;
  /** Request bytes in flight (read, not yet answered) above which reading pauses. */
  maxInFlightBytes: number;
  /** connections.max.idle.ms: a connection with nothing in flight for this long is closed. */
  idleTimeoutMs: number;
  /** A request whose bytes are still arriving after this long is cut off (slow-dribble defence). */
  requestTimeoutMs: number;
}

/**
 * What handling one request frame produced: response bytes (size prefix included; several
 * chunks are written back to back, as one response), nothing, or a reason to close.
 */
export type FrameOutcome =
  | {
      response: Buffer | Buffer[];
      /**
       * Called once the socket has taken every byte of the response (not if the write
       * failed or the connection closed first): memory it referenced may then be reused.
       */
      written?: () => void;
    }
  | { response: null }
  | { close: string };

export type FrameHandler = (frame: Buffer, connection: Connection) => Promise<FrameOutcome>;

interface Slot {
  size: number;
  outcome: FrameOutcome | null;
}

let nextId = 0;

/**
 * One client connection: splits the byte stream into size-prefixed frames, hands each to
 * the frame handler as soon as it is complete (so independent requests proceed
 * concurrently), and writes the responses strictly in request order, as Kafka clients
 * pair responses with their oldest pending request.
 */
export class Connection {
  readonly id = ++nextId;
  readonly socket: Socket;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Free for the layers above: authentication state, fetch sessions and the like. */
  readonly attributes = new Map<string, unknown>();
  readonly #limits: ConnectionLimits;
  readonly #handle: FrameHandler;
  readonly #onClose: (connection: Connection, reason: string | null) => void;
  readonly #slots: Slot[] = [];
  #chunks: Buffer[] = [];
  #buffered = 0;
  #inFlightBytes = 0;
  #closed = false;
  #paused = false;
  #flushScheduled = false;
  /** Set while a frame is partly received: cuts the connection if the rest takes too long. */
  #partialTimer: NodeJS.Timeout | null = null;

  constructor(
    socket: Socket,
    limits: ConnectionLimits,
    handle: FrameHandler,
    onClose: (connection: Connection, reason: string | null) => void,
  ) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
    this.remotePort = socket.remotePort ?? 0;
    this.#limits = limits;
    this.#handle = handle;
    this.#onClose = onClose;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#updateFlow());
    socket.on('error', () => this.close(null));
    socket.on('close', () => this.close(null));
    if (limits.idleTimeoutMs > 0) {
      socket.setTimeout(limits.idleTimeoutMs, () => {
        if (this.#slots.length === 0) this.close('idle timeout');
      });
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connection; a reason is passed to the close listener for logging. */
  close(reason: string | null): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearPartialTimer();
    this.#slots.length = 0;
    this.#chunks = [];
    this.socket.destroy();
    this.#onClose(this, reason);
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    while (this.#buffered >= 4) {
      const size = this.#peekSize();
      if (size < 0 || size > this.#limits.maxRequestSize) {
        this.close(`request size ${size} outside 0..${this.#limits.maxRequestSize}`);
        return;
      }
      if (this.#buffered < 4 + size) break;
      const frame = this.#take(4 + size).subarray(4);
      // A whole frame arrived: the next one gets its own full request timeout.
      this.#clearPartialTimer();
      this.#dispatch(frame);
      if (this.#closed) return;
    }
    if (this.#buffered === 0) this.#clearPartialTimer();
    else if (this.#partialTimer === null && this.#limits.requestTimeoutMs > 0) {
      this.#partialTimer = setTimeout(() => {
        this.#partialTimer = null;
        if (this.#buffered > 0) this.close(`request not complete after ${this.#limits.requestTimeoutMs} ms`);
      }, this.#limits.requestTimeoutMs);
      this.#partialTimer.unref();
    }
    this.#updateFlow();
  }

  #clearPartialTimer(): void {
    if (this.#partialTimer !== null) {
      clearTimeout(this.#partialTimer);
      this.#partialTimer = null;
    }
  }

  #peekSize(): number {
    const first = this.#chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    return Buffer.concat(this.#chunks, 4).readInt32BE(0);
  }

  /** Removes n bytes from the front of the buffered chunks; copies only when a frame spans chunks. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0]!;
      const part = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, part);
      filled += part;
      if (part === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(part);
    }
    return out;
  }

  #dispatch(frame: Buffer): void {
    const slot: Slot = { size: frame.length, outcome: null };
    this.#slots.push(slot);
    this.#inFlightBytes += frame.length;
    this.#handle(frame, this).then(
      (outcome) => {
        slot.outcome = outcome;
        this.#scheduleFlush();
      },
      (err: unknown) => {
        slot.outcome = { close: `request failed: ${(err as Error)?.message ?? String(err)}` };
        this.#scheduleFlush();
      },
    );
  }

  /**
   * Requests finish in bursts (one group commit acknowledges every produce waiting on it),
   * each in its own promise reaction. A tick callback runs once those reactions have all
   * run, so the burst goes out in one write system call instead of one per response.
   */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    process.nextTick(this.#flushNow);
  }

  readonly #flushNow = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  /** Writes every finished response at the head of the queue, in order. */
  #flush(): void {
    if (this.#closed) return;
    let wrote = false;
    while (this.#slots.length > 0 && this.#slots[0]!.outcome !== null) {
      const slot = this.#slots.shift()!;
      const outcome = slot.outcome!;
      this.#inFlightBytes -= slot.size;
      if ('close' in outcome) {
        // The responses before it still go out, as they would have one by one.
        if (wrote) this.socket.uncork();
        this.close(outcome.close);
        return;
      }
      if (outcome.response !== null) {
        if (!wrote) this.socket.cork();
        wrote = true;
        const chunks = Array.isArray(outcome.response) ? outcome.response : [outcome.response];
        const written = 'written' in outcome ? outcome.written : undefined;
        const last = chunks.length - 1;
        for (let i = 0; i < last; i++) this.socket.write(chunks[i]!);
        // Callbacks run in write order, so the last chunk's says the whole response is out.
        if (written === undefined) this.socket.write(chunks[last]!);
        else this.socket.write(chunks[last]!, (err) => (err ? undefined : written()));
      }
    }
    if (wrote) this.socket.uncork();
    this.#updateFlow();
  }

  /** Pauses reading while too many request bytes are in flight or the socket's write buffer is full. */
  #updateFlow(): void {
    if (this.#closed) return;
    const over = this.#inFlightBytes > this.#limits.maxInFlightBytes || this.socket.writableNeedDrain;
    if (over && !this.#paused) {
      this.#paused = true;
      this.socket.pause();
    } else if (!over && this.#paused) {
      this.#paused = false;
      this.socket.resume();
      // Frames that arrived before the pause may already be buffered.
      if (this.#buffered >= 4) this.#onData(Buffer.alloc(0));
    }
  }
}
