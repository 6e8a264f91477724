import { type StartBrokerOptions, type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { Connection } from '../../src/client/connection.ts';
import { API_VERSION_FACTS } from '../../src/protocol/generated/api-keys.ts';

export interface TestBroker extends StartedBroker {
  /** Whether the broker advertises the API in ApiVersions. */
  serves(apiKey: number): boolean;
  /**
   * Test options: `{ skip: '<API> not served yet' }` when the broker does not advertise one
   * of the APIs, and always a time limit, so a hang fails rather than stalls the run.
   */
  needs(...apiKeys: number[]): { skip?: string; timeout: number };
}

/**
 * Starts our broker on 127.0.0.1 and asks it, over ApiVersions, what it serves, so tests
 * of APIs not built yet are skipped by name, and only those.
 */
export async function startTestBroker(options: StartBrokerOptions = {}): Promise<TestBroker> {
  const broker = await startBroker({ host: '127.0.0.1', ...options });
  const connection = await Connection.connect({ host: broker.host, port: broker.port });
  const served = new Set<number>();
  for (const key of API_VERSION_FACTS.keys()) if (connection.brokerVersions(key)) served.add(key);
  connection.close();
  return Object.assign(broker, {
    serves: (apiKey: number) => served.has(apiKey),
    needs: (...apiKeys: number[]) => {
      const missing = apiKeys.filter((k) => !served.has(k)).map((k) => API_VERSION_FACTS.get(k)?.name ?? String(k));
      return missing.length > 0
        ? { skip: `${missing.join(', ')} not served yet`, timeout: TEST_TIMEOUT_MS }
        : { timeout: TEST_TIMEOUT_MS };
    },
  });
}

/** Every test against a broker is bounded by this. */
export const TEST_TIMEOUT_MS = 60_000;

let counter = 0;
/** A topic name unique within the test run. */
export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Resolves when `check` returns true, polling; rejects after the timeout. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
