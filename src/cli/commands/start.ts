import { parseArgs } from 'node:util';
import { Broker } from '../../broker/broker.ts';
import { BrokerConfig } from '../../broker/config.ts';
import { createLogger } from '../../broker/logger.ts';

export const START_USAGE = `Usage: tributary start [--port <n>] [--host <addr>] [--data-dir <dir>] [--config <file>] [--log-level <level>]

Starts a single-node broker (default 127.0.0.1:9092, data in ./data).
--config reads Kafka-style key=value lines (listeners, node.id, num.partitions, ...);
--port, --host and --data-dir override it.
`;

export async function start(argv: readonly string[]): Promise<number> {
  const started = performance.now();
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(START_USAGE);
    return 0;
  }
  const overrides: Record<string, string> = {};
  if (values['data-dir'] !== undefined) overrides['log.dirs'] = values['data-dir'];
  if (values.port !== undefined || values.host !== undefined) {
    const base = values.config ? BrokerConfig.fromFile(values.config).listener : { host: '127.0.0.1', port: 9092 };
    overrides.listeners = `PLAINTEXT://${values.host ?? base.host}:${values.port ?? base.port}`;
  }
  const config = values.config ? BrokerConfig.fromFile(values.config, overrides) : new BrokerConfig(overrides);
  const logger = createLogger({ level: values['log-level'] ?? 'info' });
  const broker = await Broker.start({ config, logger });
  logger.info(
    {
      address: `${broker.address.host}:${broker.address.port}`,
      advertised: broker.bootstrap,
      startupMs: Math.round(performance.now() - started),
    },
    `Broker ${broker.services.nodeId} listening on ${broker.address.host}:${broker.address.port} (started in ${Math.round(performance.now() - started)} ms)`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'Shutting down: finishing in-flight requests and flushing');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await broker.close();
  logger.info('Stopped');
  logger.flush();
  return 0;
}
