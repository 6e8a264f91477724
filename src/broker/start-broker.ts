import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from './broker.ts';
import { BrokerConfig } from './config.ts';
import { createLogger, type Logger, silentLogger } from './logger.ts';

export interface StartBrokerOptions {
  /** Where the data lives; a fresh temp dir (removed on close) when omitted. */
  dataDir?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** Broker config under Kafka's keys, e.g. `{ 'num.partitions': 3 }`. */
  config?: Readonly<Record<string, string | number | boolean>>;
  /** Log level ('silent' by default) or a logger. */
  log?: string | Logger;
}

export interface StartedBroker {
  /** `host:port`, for a client's brokers / bootstrap.servers. */
  bootstrap: string;
  host: string;
  port: number;
  dataDir: string;
  broker: Broker;
  close(): Promise<void>;
}

/**
 * Starts a real broker inside this process, for the tests of applications built on Kafka:
 * real TCP, real files, no Docker and no JVM.
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<StartedBroker> {
  const temp = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'tributary-')) : null;
  const dataDir = options.dataDir ?? temp!;
  const host = options.host ?? '127.0.0.1';
  const config = new BrokerConfig({
    ...options.config,
    listeners: `PLAINTEXT://${host}:${options.port ?? 0}`,
    'log.dirs': dataDir,
  });
  const logger =
    typeof options.log === 'object'
      ? options.log
      : options.log === undefined || options.log === 'silent'
        ? silentLogger()
        : createLogger({ level: options.log });
  let broker: Broker;
  try {
    broker = await Broker.start({ config, logger });
  } catch (err) {
    if (temp) await rm(temp, { recursive: true, force: true });
    throw err;
  }
  return {
    bootstrap: broker.bootstrap,
    host: broker.services.advertised.host,
    port: broker.services.advertised.port,
    dataDir,
    broker,
    async close() {
      await broker.close();
      if (temp) await rm(temp, { recursive: true, force: true });
    },
  };
}
