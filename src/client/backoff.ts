export interface BackoffOptions {
  /** First delay. */
  initialMs: number;
  /** Largest delay, however many attempts failed. */
  maxMs: number;
  /** Random spread around each delay, as a fraction (Kafka uses 0.2). */
  jitter?: number;
}

/** Kafka's ExponentialBackoff: initial × 2^attempt, capped, with ±20% jitter by default. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, attempt));
  const jitter = options.jitter ?? 0.2;
  const spread = base * jitter * (Math.random() * 2 - 1);
  return Math.max(0, Math.round(Math.min(options.maxMs, base + spread)));
}

/** A promise that resolves after `ms`, or early (resolving) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Waits for a promise for at most `ms`, ignoring its result and errors. */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  const timeout = new AbortController();
  await Promise.race([promise.catch(() => {}), sleep(Math.max(0, ms), timeout.signal)]);
  timeout.abort();
}
