import { readFileSync } from 'node:fs';

/**
 * Broker configuration under Kafka's own keys. Values are kept as the strings a user
 * wrote (as Kafka's DescribeConfigs reports them) and read through typed accessors.
 */
export const BROKER_CONFIG_DEFAULTS: Readonly<Record<string, string>> = {
  'node.id': '1',
  listeners: 'PLAINTEXT://127.0.0.1:9092',
  'advertised.listeners': '',
  'log.dirs': './data',
  'num.partitions': '1',
  'default.replication.factor': '1',
  'auto.create.topics.enable': 'true',
  'delete.topic.enable': 'true',
  'message.max.bytes': '1048588',
  'socket.request.max.bytes': '104857600',
  'connections.max.idle.ms': '600000',
  'queued.max.request.bytes': '-1',
  'log.segment.bytes': '1073741824',
  'log.roll.ms': '',
  'log.roll.hours': '168',
  'log.retention.ms': '',
  'log.retention.minutes': '',
  'log.retention.hours': '168',
  'log.retention.bytes': '-1',
  'log.retention.check.interval.ms': '300000',
  'log.index.interval.bytes': '4096',
  // 1: every append is fdatasync'ed before it is acknowledged (see storage/config.ts).
  'log.flush.interval.messages': '1',
  'log.flush.interval.ms': '',
  'log.message.timestamp.type': 'CreateTime',
  'log.cleanup.policy': 'delete',
  'log.cleaner.enable': 'true',
  'log.cleaner.backoff.ms': '15000',
  // Memory for the cleaner's key → offset map. Our map costs about 100 bytes a key
  // (Kafka's 24), so this is about 500,000 keys a round, not Kafka's 128 MiB.
  'log.cleaner.dedupe.buffer.size': '50000000',
  'min.insync.replicas': '1',
  'offsets.topic.replication.factor': '3',
  'offsets.topic.num.partitions': '50',
  'offsets.retention.minutes': '10080',
  'group.initial.rebalance.delay.ms': '3000',
  'group.min.session.timeout.ms': '6000',
  'group.max.session.timeout.ms': '1800000',
  'transaction.state.log.num.partitions': '50',
  'transaction.state.log.replication.factor': '3',
  'fetch.max.bytes': '57671680',
};

export class BrokerConfig {
  readonly #values: Map<string, string>;

  constructor(overrides: Readonly<Record<string, string | number | boolean>> = {}) {
    this.#values = new Map(Object.entries(BROKER_CONFIG_DEFAULTS));
    for (const [key, value] of Object.entries(overrides)) {
      this.#values.set(key, String(value));
      this.explicit.add(key);
    }
  }

  /** Keys the user set, as opposed to defaults (DescribeConfigs reports them as STATIC_BROKER_CONFIG). */
  readonly explicit = new Set<string>();

  static fromProperties(
    text: string,
    overrides: Readonly<Record<string, string | number | boolean>> = {},
  ): BrokerConfig {
    const values: Record<string, string> = {};
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
      const eq = line.search(/[=:]/);
      if (eq < 0) throw new Error(`Cannot read config line "${line}": expected key=value`);
      values[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
    const config = new BrokerConfig({ ...values, ...overrides });
    for (const key of [...Object.keys(values), ...Object.keys(overrides)]) config.explicit.add(key);
    return config;
  }

  static fromFile(path: string, overrides: Readonly<Record<string, string | number | boolean>> = {}): BrokerConfig {
    return BrokerConfig.fromProperties(readFileSync(path, 'utf8'), overrides);
  }

  get(key: string): string | undefined {
    const v = this.#values.get(key);
    return v === '' ? undefined : v;
  }

  entries(): IterableIterator<[string, string]> {
    return this.#values.entries();
  }

  int(key: string): number {
    const v = this.get(key);
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) throw new Error(`Config "${key}" must be a number, got "${v ?? ''}"`);
    return n;
  }

  bool(key: string): boolean {
    const v = this.get(key);
    if (v !== 'true' && v !== 'false') throw new Error(`Config "${key}" must be true or false, got "${v ?? ''}"`);
    return v === 'true';
  }

  get nodeId(): number {
    return this.int('node.id');
  }

  /** Retention in ms, from the most precise of log.retention.ms/minutes/hours that is set. */
  get retentionMs(): number {
    const ms = this.get('log.retention.ms');
    if (ms !== undefined) return Number(ms);
    const minutes = this.get('log.retention.minutes');
    if (minutes !== undefined) return Number(minutes) * 60_000;
    return this.int('log.retention.hours') * 3_600_000;
  }

  get rollMs(): number {
    const ms = this.get('log.roll.ms');
    return ms !== undefined ? Number(ms) : this.int('log.roll.hours') * 3_600_000;
  }

  /** The first PLAINTEXT listener's host and port. */
  get listener(): { host: string; port: number } {
    return parseListener(this.get('listeners') ?? 'PLAINTEXT://127.0.0.1:9092');
  }

  /** The address clients are told to connect to; the listener when none is advertised. */
  get advertisedListener(): { host: string; port: number } | undefined {
    const v = this.get('advertised.listeners');
    return v === undefined ? undefined : parseListener(v);
  }

  /** Broker-wide defaults for topic configs, under the topic keys. */
  topicDefaults(): Record<string, string> {
    const out: Record<string, string> = {
      'segment.bytes': this.get('log.segment.bytes')!,
      'segment.ms': String(this.rollMs),
      'retention.ms': String(this.retentionMs),
      'retention.bytes': this.get('log.retention.bytes')!,
      'index.interval.bytes': this.get('log.index.interval.bytes')!,
      'message.timestamp.type': this.get('log.message.timestamp.type')!,
      'cleanup.policy': this.get('log.cleanup.policy')!,
      'max.message.bytes': this.get('message.max.bytes')!,
      'min.insync.replicas': this.get('min.insync.replicas')!,
    };
    const flushMessages = this.get('log.flush.interval.messages');
    if (flushMessages !== undefined) out['flush.messages'] = flushMessages;
    const flushMs = this.get('log.flush.interval.ms');
    if (flushMs !== undefined) out['flush.ms'] = flushMs;
    return out;
  }
}

export function parseListener(value: string): { host: string; port: number } {
  const first = value.split(',')[0]!.trim();
  const m = /^(?:[A-Za-z_]+:\/\/)?\[?([^\]]*?)\]?:(\d+)$/.exec(first);
  if (!m) throw new Error(`Cannot read listener "${value}": expected PLAINTEXT://host:port`);
  return { host: m[1] === '' || m[1] === '0.0.0.0' ? '0.0.0.0' : m[1]!, port: Number(m[2]) };
}
