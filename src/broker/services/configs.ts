import { isLogConfigKey, TOPIC_CONFIG_DEFINITIONS } from '../../storage/config.ts';
import { BROKER_CONFIG_DEFAULTS, type BrokerConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import {
  InvalidConfigRequestError,
  InvalidRequestError,
  InvalidTopicError,
  UnknownTopicOrPartitionError,
} from './errors.ts';
import { TopicManager } from './topic-manager.ts';

/** Kafka's ConfigResource.Type ids, as DescribeConfigs and the AlterConfigs APIs carry them. */
export const ConfigResourceType = {
  TOPIC: 2,
  BROKER: 4,
  BROKER_LOGGER: 8,
} as const;

/** Where a config value comes from (DescribeConfigsResponse.ConfigSource). */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
} as const;

/** DescribeConfigs v3+ ConfigType. */
export const ConfigType = {
  UNKNOWN: 0,
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
} as const;

/** IncrementalAlterConfigs operations. */
export const AlterConfigOp = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

export interface ConfigSynonym {
  name: string;
  value: string | null;
  source: number;
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  isSensitive: boolean;
  source: number;
  /** Where the value could come from, most specific first (the first one is `source`). */
  synonyms: ConfigSynonym[];
  configType: number;
}

export interface ConfigResource {
  resourceType: number;
  resourceName: string;
}

export interface AlterableConfig {
  name: string;
  value: string | null;
}

export interface IncrementalAlterableConfig {
  name: string;
  configOperation: number;
  value: string | null;
}

export interface ConfigServiceDeps {
  readonly config: BrokerConfig;
  readonly topics: TopicManager;
  readonly nodeId: number;
  readonly logger: Logger;
}

/**
 * The broker keys a topic config falls back to, most specific first (Kafka's
 * ServerTopicConfigSynonyms). Only reported for topic keys the broker really derives from
 * its own config (BrokerConfig.topicDefaults), so a synonym never claims a value the logs
 * do not use.
 */
const TOPIC_CONFIG_SYNONYMS: Readonly<Record<string, readonly string[]>> = {
  'segment.bytes': ['log.segment.bytes'],
  'segment.ms': ['log.roll.ms', 'log.roll.hours'],
  'segment.jitter.ms': ['log.roll.jitter.ms', 'log.roll.jitter.hours'],
  'segment.index.bytes': ['log.index.size.max.bytes'],
  'flush.messages': ['log.flush.interval.messages'],
  'flush.ms': ['log.flush.interval.ms'],
  'retention.bytes': ['log.retention.bytes'],
  'retention.ms': ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'],
  'max.message.bytes': ['message.max.bytes'],
  'index.interval.bytes': ['log.index.interval.bytes'],
  'delete.retention.ms': ['log.cleaner.delete.retention.ms'],
  'min.compaction.lag.ms': ['log.cleaner.min.compaction.lag.ms'],
  'max.compaction.lag.ms': ['log.cleaner.max.compaction.lag.ms'],
  'file.delete.delay.ms': ['log.segment.delete.delay.ms'],
  'min.cleanable.dirty.ratio': ['log.cleaner.min.cleanable.ratio'],
  'cleanup.policy': ['log.cleanup.policy'],
  'unclean.leader.election.enable': ['unclean.leader.election.enable'],
  'min.insync.replicas': ['min.insync.replicas'],
  'compression.type': ['compression.type'],
  preallocate: ['log.preallocate'],
  'message.timestamp.type': ['log.message.timestamp.type'],
  'message.timestamp.before.max.ms': ['log.message.timestamp.before.max.ms'],
  'message.timestamp.after.max.ms': ['log.message.timestamp.after.max.ms'],
};

/** Broker keys that are one setting under several units (Kafka's brokerConfigSynonyms). */
const BROKER_SYNONYM_GROUPS: readonly (readonly string[])[] = [
  ['log.roll.ms', 'log.roll.hours'],
  ['log.roll.jitter.ms', 'log.roll.jitter.hours'],
  ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'],
];

/** Broker key types that cannot be told from the default value. */
const BROKER_CONFIG_TYPES: Readonly<Record<string, number>> = {
  listeners: ConfigType.STRING,
  'advertised.listeners': ConfigType.STRING,
  'log.dirs': ConfigType.STRING,
  'connections.max.idle.ms': ConfigType.LONG,
  'queued.max.request.bytes': ConfigType.LONG,
  'log.roll.ms': ConfigType.LONG,
  'log.retention.ms': ConfigType.LONG,
  'log.retention.minutes': ConfigType.INT,
  'log.retention.bytes': ConfigType.LONG,
  'log.retention.check.interval.ms': ConfigType.LONG,
  'log.flush.interval.messages': ConfigType.LONG,
  'log.flush.interval.ms': ConfigType.LONG,
  'log.cleanup.policy': ConfigType.LIST,
  'offsets.topic.replication.factor': ConfigType.SHORT,
  'transaction.state.log.replication.factor': ConfigType.SHORT,
};

const TOPIC_CONFIG_TYPES: Readonly<Record<string, number>> = {
  int: ConfigType.INT,
  long: ConfigType.LONG,
  double: ConfigType.DOUBLE,
  boolean: ConfigType.BOOLEAN,
  string: ConfigType.STRING,
  list: ConfigType.LIST,
};

/** log4j levels, as Kafka reports broker loggers, and the pino level each one is here. */
const LOG4J_TO_PINO: Readonly<Record<string, string>> = {
  ALL: 'trace',
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
  FATAL: 'fatal',
  OFF: 'silent',
};
const ROOT_LOGGER = 'root';

const OPERATION_NAMES = ['SET', 'DELETE', 'APPEND', 'SUBTRACT'];

/**
 * Describes and alters configs of topics, the broker and its logger. Topic configs are the
 * TopicStore's overrides over the broker's topic defaults; changes go through the
 * TopicManager, which persists them and applies them to the logs at once. The broker's
 * own configs are static (read at start): changing them dynamically is refused.
 */
export class ConfigService {
  readonly #config: BrokerConfig;
  readonly #topics: TopicManager;
  readonly #nodeId: number;
  readonly #logger: Logger;

  constructor(deps: ConfigServiceDeps) {
    this.#config = deps.config;
    this.#topics = deps.topics;
    this.#nodeId = deps.nodeId;
    this.#logger = deps.logger;
  }

  /**
   * The configs of one resource, filtered to `keys` when not null (unknown keys are left
   * out). Synonyms are filled only when asked for. Throws BrokerErrors.
   */
  describe(resource: ConfigResource, keys: readonly string[] | null, includeSynonyms: boolean): ConfigEntry[] {
    const entries = this.#describeAll(resource);
    const wanted = keys === null ? null : new Set(keys);
    return entries
      .filter((e) => wanted === null || wanted.has(e.name))
      .map((e) => (includeSynonyms ? e : { ...e, synonyms: [] }));
  }

  #describeAll(resource: ConfigResource): ConfigEntry[] {
    const { resourceType, resourceName } = resource;
    switch (resourceType) {
      case ConfigResourceType.TOPIC: {
        const cannot = `Cannot describe configs of topic "${resourceName}"`;
        checkTopicName(cannot, resourceName);
        const topic = this.#topics.get(resourceName);
        if (!topic) throw new UnknownTopicOrPartitionError(`${cannot}: it does not exist`);
        return this.topicEntries(topic.configs);
      }
      case ConfigResourceType.BROKER:
        // The empty name is the cluster-wide dynamic defaults, of which there are none.
        if (resourceName === '') return [];
        this.#checkBrokerId(`Cannot describe configs of broker "${resourceName}"`, resourceName);
        return this.#brokerEntries();
      case ConfigResourceType.BROKER_LOGGER:
        this.#checkBrokerId(`Cannot describe loggers of broker "${resourceName}"`, resourceName);
        return [
          {
            name: ROOT_LOGGER,
            value: pinoToLog4j(this.#logger.level),
            readOnly: false,
            isSensitive: false,
            source: ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG,
            synonyms: [],
            configType: ConfigType.STRING,
          },
        ];
      default:
        throw new InvalidRequestError(
          `Cannot describe configs of resource type ${resourceType}: only topics (2), brokers (4) and broker loggers (8) have configs here`,
        );
    }
  }

  /** Every topic config with its effective value given these overrides, sorted by name. */
  topicEntries(overrides: Readonly<Record<string, string>>): ConfigEntry[] {
    const brokerDefaults = this.#config.topicDefaults();
    return Object.keys(TOPIC_CONFIG_DEFINITIONS)
      .sort()
      .map((name) => {
        const def = TOPIC_CONFIG_DEFINITIONS[name as keyof typeof TOPIC_CONFIG_DEFINITIONS];
        const synonyms: ConfigSynonym[] = [];
        const override = Object.hasOwn(overrides, name) ? overrides[name]! : undefined;
        if (override !== undefined) synonyms.push({ name, value: override, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
        if (Object.hasOwn(brokerDefaults, name))
          synonyms.push(...this.#brokerSynonyms(TOPIC_CONFIG_SYNONYMS[name] ?? []));
        return {
          name,
          value: override ?? brokerDefaults[name] ?? def.default,
          readOnly: false,
          isSensitive: false,
          source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
          synonyms,
          configType: TOPIC_CONFIG_TYPES[def.type] ?? ConfigType.UNKNOWN,
        };
      });
  }

  /** Kafka's order: every key set in the config file, then every key's built-in default. */
  #brokerSynonyms(names: readonly string[]): ConfigSynonym[] {
    const out: ConfigSynonym[] = [];
    for (const name of names) {
      const value = this.#config.get(name);
      if (this.#config.explicit.has(name) && value !== undefined) {
        out.push({ name, value: sensitive(name) ? null : value, source: ConfigSource.STATIC_BROKER_CONFIG });
      }
    }
    for (const name of names) {
      const value = BROKER_CONFIG_DEFAULTS[name];
      if (value !== undefined && value !== '') {
        out.push({ name, value: sensitive(name) ? null : value, source: ConfigSource.DEFAULT_CONFIG });
      }
    }
    return out;
  }

  #brokerEntries(): ConfigEntry[] {
    return [...this.#config.entries()]
      .map(([name]) => name)
      .sort()
      .map((name) => {
        const group = BROKER_SYNONYM_GROUPS.find((g) => g.includes(name)) ?? [name];
        const all = this.#brokerSynonyms(group);
        // As Kafka does: a key's synonyms start at the key itself, so log.retention.hours
        // does not list log.retention.ms, but log.retention.ms lists log.retention.hours.
        const first = all.findIndex((s) => s.name === name);
        const synonyms = first < 0 ? [] : all.slice(first);
        const value = this.#config.get(name) ?? null;
        return {
          name,
          value: sensitive(name) ? null : value,
          // Nothing can be changed without a restart: there are no dynamic broker configs.
          readOnly: true,
          isSensitive: sensitive(name),
          source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
          synonyms,
          configType: brokerConfigType(name, BROKER_CONFIG_DEFAULTS[name] ?? value ?? ''),
        };
      });
  }

  /** Throws INVALID_REQUEST unless `name` is this broker's id. */
  #checkBrokerId(cannot: string, name: string): void {
    if (name === '') throw new InvalidRequestError(`${cannot}: a broker id is required`);
    if (!/^-?[0-9]+$/.test(name)) throw new InvalidRequestError(`${cannot}: a broker id is an integer`);
    if (Number(name) !== this.#nodeId) throw new InvalidRequestError(`${cannot}: this is broker ${this.#nodeId}`);
  }

  /**
   * AlterConfigs: the given configs become the resource's whole set of overrides (keys
   * not listed go back to their defaults). Throws BrokerErrors; changes nothing on error.
   */
  async alter(resource: ConfigResource, configs: readonly AlterableConfig[], validateOnly: boolean): Promise<void> {
    const { resourceType, resourceName } = resource;
    switch (resourceType) {
      case ConfigResourceType.TOPIC: {
        const cannot = `Cannot alter configs of topic "${resourceName}"`;
        checkTopicName(cannot, resourceName);
        const next: Record<string, string> = {};
        for (const { name, value } of checkUnique(cannot, configs)) {
          if (value === null) throw new InvalidRequestError(`${cannot}: config "${name}" has a null value`);
          checkTopicKey(cannot, name);
          next[name] = value;
        }
        await this.#topics.updateConfigs(resourceName, () => next, validateOnly);
        return;
      }
      case ConfigResourceType.BROKER:
        this.#refuseBrokerChange(`Cannot alter configs of broker "${resourceName}"`, resourceName, configs);
        return;
      case ConfigResourceType.BROKER_LOGGER:
        throw new InvalidRequestError(
          `Cannot alter loggers of broker "${resourceName}" with AlterConfigs: use IncrementalAlterConfigs`,
        );
      default:
        throw new InvalidRequestError(
          `Cannot alter configs of resource type ${resourceType}: only topics (2) and brokers (4) have configs here`,
        );
    }
  }

  /** IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT on the current overrides. */
  async incrementalAlter(
    resource: ConfigResource,
    configs: readonly IncrementalAlterableConfig[],
    validateOnly: boolean,
  ): Promise<void> {
    const { resourceType, resourceName } = resource;
    switch (resourceType) {
      case ConfigResourceType.TOPIC: {
        const cannot = `Cannot alter configs of topic "${resourceName}"`;
        checkTopicName(cannot, resourceName);
        const ops = checkUnique(cannot, configs);
        for (const op of ops) {
          checkOperation(cannot, op);
          checkTopicKey(cannot, op.name);
          if (
            (op.configOperation === AlterConfigOp.APPEND || op.configOperation === AlterConfigOp.SUBTRACT) &&
            TOPIC_CONFIG_DEFINITIONS[op.name as keyof typeof TOPIC_CONFIG_DEFINITIONS].type !== 'list'
          ) {
            throw new InvalidConfigRequestError(
              `${cannot}: cannot ${OPERATION_NAMES[op.configOperation]} config "${op.name}" because it is not a list`,
            );
          }
        }
        const defaults = this.#config.topicDefaults();
        await this.#topics.updateConfigs(
          resourceName,
          (current) => {
            const next: Record<string, string> = { ...current };
            for (const { name, configOperation, value } of ops) {
              if (configOperation === AlterConfigOp.SET) next[name] = value!;
              else if (configOperation === AlterConfigOp.DELETE) delete next[name];
              else {
                const key = name as keyof typeof TOPIC_CONFIG_DEFINITIONS;
                const base = splitList(next[name] ?? defaults[name] ?? TOPIC_CONFIG_DEFINITIONS[key].default);
                const items = splitList(value!);
                next[name] = (
                  configOperation === AlterConfigOp.APPEND
                    ? [...base, ...items.filter((item) => !base.includes(item))]
                    : base.filter((item) => !items.includes(item))
                ).join(',');
              }
            }
            return next;
          },
          validateOnly,
        );
        return;
      }
      case ConfigResourceType.BROKER:
        this.#refuseBrokerChange(`Cannot alter configs of broker "${resourceName}"`, resourceName, configs);
        return;
      case ConfigResourceType.BROKER_LOGGER:
        this.#alterLoggers(resourceName, configs, validateOnly);
        return;
      default:
        throw new InvalidRequestError(
          `Cannot alter configs of resource type ${resourceType}: only topics (2), brokers (4) and broker loggers (8) have configs here`,
        );
    }
  }

  /**
   * Broker configs are read once at start; Kafka's dynamic broker configs are not
   * implemented, so any change is refused (INVALID_REQUEST, as Kafka answers for a key
   * that cannot be updated dynamically). An empty change succeeds: there is nothing to do.
   */
  #refuseBrokerChange(cannot: string, resourceName: string, configs: readonly { name: string }[]): void {
    if (resourceName !== '') this.#checkBrokerId(cannot, resourceName);
    const first = configs[0];
    if (first !== undefined) {
      throw new InvalidRequestError(
        `${cannot}: "${first.name}" cannot be changed while the broker runs (dynamic broker configs are not supported); set it in the broker's config file and restart`,
      );
    }
  }

  /** The root logger's level, as log4j names it (Kafka's BROKER_LOGGER resource). */
  #alterLoggers(resourceName: string, configs: readonly IncrementalAlterableConfig[], validateOnly: boolean): void {
    const cannot = `Cannot alter loggers of broker "${resourceName}"`;
    this.#checkBrokerId(cannot, resourceName);
    let level: string | undefined;
    for (const op of checkUnique(cannot, configs)) {
      checkOperation(cannot, op);
      if (op.name !== ROOT_LOGGER) {
        throw new InvalidConfigRequestError(
          `${cannot}: logger "${op.name}" does not exist (there is "${ROOT_LOGGER}")`,
        );
      }
      if (op.configOperation !== AlterConfigOp.SET) {
        throw new InvalidRequestError(
          `${cannot}: ${OPERATION_NAMES[op.configOperation]} is not allowed on logger "${op.name}", only SET`,
        );
      }
      const pinoLevel = LOG4J_TO_PINO[op.value!.toUpperCase()];
      if (pinoLevel === undefined) {
        throw new InvalidConfigRequestError(
          `${cannot}: "${op.value}" is not a log level (one of ${Object.keys(LOG4J_TO_PINO).join(', ')})`,
        );
      }
      level = pinoLevel;
    }
    if (level !== undefined && !validateOnly) this.#logger.level = level;
  }
}

function checkTopicName(cannot: string, name: string): void {
  try {
    TopicManager.validateName(name);
  } catch (err) {
    if (err instanceof InvalidTopicError) throw new InvalidTopicError(`${cannot}: ${lowerFirst(err.message)}`);
    throw err;
  }
}

function checkTopicKey(cannot: string, name: string): void {
  if (!isLogConfigKey(name)) throw new InvalidConfigRequestError(`${cannot}: "${name}" is not a topic config`);
}

function checkOperation(cannot: string, op: IncrementalAlterableConfig): void {
  if (!Number.isInteger(op.configOperation) || op.configOperation < 0 || op.configOperation > 3) {
    throw new InvalidRequestError(`${cannot}: unknown operation ${op.configOperation} on config "${op.name}"`);
  }
  if (op.configOperation !== AlterConfigOp.DELETE && op.value === null) {
    throw new InvalidRequestError(
      `${cannot}: ${OPERATION_NAMES[op.configOperation]} of config "${op.name}" has a null value`,
    );
  }
}

function checkUnique<T extends { name: string }>(cannot: string, configs: readonly T[]): readonly T[] {
  const seen = new Set<string>();
  for (const { name } of configs) {
    if (seen.has(name)) throw new InvalidRequestError(`${cannot}: config "${name}" is given more than once`);
    seen.add(name);
  }
  return configs;
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function sensitive(name: string): boolean {
  return /password|secret|\.jaas\.config$/.test(name);
}

function brokerConfigType(name: string, sample: string): number {
  if (sensitive(name)) return ConfigType.PASSWORD;
  const known = BROKER_CONFIG_TYPES[name];
  if (known !== undefined) return known;
  if (sample === 'true' || sample === 'false') return ConfigType.BOOLEAN;
  if (/^-?[0-9]+$/.test(sample)) return Math.abs(Number(sample)) <= 0x7fffffff ? ConfigType.INT : ConfigType.LONG;
  if (/^-?[0-9]*\.[0-9]+$/.test(sample)) return ConfigType.DOUBLE;
  return ConfigType.STRING;
}

function pinoToLog4j(level: string): string {
  if (level === 'silent') return 'OFF';
  return level.toUpperCase();
}

function lowerFirst(message: string): string {
  return message.charAt(0).toLowerCase() + message.slice(1);
}
