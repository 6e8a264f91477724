import type { Admin, ConfigEntry, PartitionDescription, TopicDescription } from '../../client/admin.ts';
import { integer, keyValues, positionals, UsageError } from '../args.ts';
import { runCommand, runGroup } from '../command.ts';
import { attempt, CommandError } from '../context.ts';
import { fields, table } from '../output.ts';

export const TOPIC_USAGE = `Usage: tributary topic <command> [options]

Commands:
  create <name>           create a topic
  list                    list topics with their partition counts
  describe <name>         partitions, leaders, replicas, ISR, offsets and non-default configs
  delete <name>           delete a topic and its data
  alter-config <name>     set or delete topic configs
  add-partitions <name>   add partitions to a topic

Run "tributary topic <command> --help" for a command's options.
`;

const CREATE_USAGE = `Usage: tributary topic create <name> [-p <partitions>] [-r <replication-factor>] [-c key=value …]

Creates a topic. Without -p or -r the broker's num.partitions and
default.replication.factor apply.

Options:
  -p, --partitions <n>           number of partitions
  -r, --replication-factor <n>   replicas of each partition
  -c, --config <key=value>       a topic config (repeatable), e.g. -c cleanup.policy=compact
`;

const LIST_USAGE = `Usage: tributary topic list [--internal]

Lists topics with their partition counts and replication factors.

Options:
  -i, --internal   include internal topics (__consumer_offsets, __transaction_state)
`;

const DESCRIBE_USAGE = `Usage: tributary topic describe <name>

Shows a topic's partitions (leader, replicas, in-sync replicas, log start and end
offsets) and the configs that differ from the defaults.
`;

const DELETE_USAGE = `Usage: tributary topic delete <name>

Deletes a topic and all its records.
`;

const ALTER_CONFIG_USAGE = `Usage: tributary topic alter-config <name> [--set key=value …] [--delete key …]

Changes single configs of a topic and leaves the others as they are
(IncrementalAlterConfigs). A deleted config falls back to its default.

Options:
  -s, --set <key=value>   set a config (repeatable)
  -d, --delete <key>      remove a config override (repeatable)
`;

const ADD_PARTITIONS_USAGE = `Usage: tributary topic add-partitions <name> -p <n>

Adds partitions to a topic. Kafka never removes partitions, and records with a key may
map to a different partition afterwards.

Options:
  -p, --partitions <n>   how many partitions to add
      --total <n>        or: the partition count the topic should have
`;

export function topic(argv: readonly string[]): Promise<number> {
  return runGroup(argv, 'topic', TOPIC_USAGE, {
    create,
    list,
    describe,
    delete: remove,
    'alter-config': alterConfig,
    'add-partitions': addPartitions,
  });
}

function replicationFactor(t: TopicDescription): number {
  return t.partitions[0]?.replicas.length ?? 0;
}

function create(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'topic create',
    usage: CREATE_USAGE,
    options: {
      partitions: { type: 'string', short: 'p' },
      'replication-factor': { type: 'string', short: 'r' },
      config: { type: 'list', short: 'c' },
    },
    async run(parsed, ctx) {
      const [name] = positionals(parsed, ['topic name'], this.name);
      const { values } = parsed;
      const partitions =
        values.partitions === undefined ? undefined : integer(values.partitions, 'partition count', this.name, 1);
      const rf =
        values['replication-factor'] === undefined
          ? undefined
          : integer(values['replication-factor'], 'replication factor', this.name, 1, 32767);
      const configs = Object.fromEntries(keyValues(values.config, 'config', this.name)) as Record<string, string>;
      const created = await attempt(`Cannot create topic "${name}"`, () =>
        ctx.withAdmin((admin) =>
          admin.createTopic(name!, { partitions: partitions ?? -1, replicationFactor: rf ?? -1, configs }),
        ),
      );
      if (ctx.json) {
        ctx.printJson({ ...created, configs });
      } else {
        ctx.out(
          table(
            ['topic', 'partitions', 'replication-factor', 'topic-id'],
            [[created.name, created.partitions, created.replicationFactor, created.topicId]],
          ),
        );
      }
      return 0;
    },
  });
}

function list(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'topic list',
    usage: LIST_USAGE,
    options: { internal: { type: 'boolean', short: 'i' } },
    async run(parsed, ctx) {
      positionals(parsed, [], this.name);
      const topics = await attempt('Cannot list topics', () =>
        ctx.withAdmin(async (admin) => {
          const names = await admin.listTopics({ includeInternal: parsed.values.internal ?? false });
          return names.length === 0 ? [] : admin.describeTopics(names);
        }),
      );
      const rows = topics.map((t) => ({
        name: t.name,
        topicId: t.topicId,
        partitions: t.partitions.length,
        replicationFactor: replicationFactor(t),
        internal: t.isInternal,
      }));
      if (ctx.json) {
        ctx.printJson(rows);
      } else if (rows.length === 0) {
        ctx.note('No topics\n');
      } else {
        ctx.out(
          table(
            ['name', 'partitions', 'replicas'],
            rows.map((r) => [r.name, r.partitions, r.replicationFactor]),
          ),
        );
      }
      return 0;
    },
  });
}

interface DescribedPartition extends PartitionDescription {
  logStartOffset: bigint | null;
  logEndOffset: bigint | null;
}

/** The partitions of a topic with their log start and end offsets (null where the partition has no leader). */
async function partitionsWithOffsets(admin: Admin, t: TopicDescription): Promise<DescribedPartition[]> {
  const led = t.partitions.filter((p) => p.leader >= 0);
  const [earliest, latest] = await Promise.all(
    (['earliest', 'latest'] as const).map((spec) =>
      led.length === 0 ? [] : admin.listOffsets(led.map((p) => ({ topic: t.name, partition: p.partition, spec }))),
    ),
  );
  return t.partitions.map((p) => {
    const i = led.indexOf(p);
    return {
      ...p,
      logStartOffset: i < 0 ? null : earliest![i]!.offset,
      logEndOffset: i < 0 ? null : latest![i]!.offset,
    };
  });
}

function configValue(c: ConfigEntry): string | null {
  return c.isSensitive && c.value === null ? '(sensitive)' : c.value;
}

function describe(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'topic describe',
    usage: DESCRIBE_USAGE,
    options: {},
    async run(parsed, ctx) {
      const [name] = positionals(parsed, ['topic name'], this.name);
      const { t, partitions, configs } = await attempt(`Cannot describe topic "${name}"`, () =>
        ctx.withAdmin(async (admin) => {
          const [t] = await admin.describeTopics([name!]);
          const [partitions, described] = await Promise.all([
            partitionsWithOffsets(admin, t!),
            admin.describeConfigs([{ type: 'topic', name: name! }]),
          ]);
          const configs = (described[0]?.configs ?? [])
            .filter((c) => !c.isDefault)
            .sort((a, b) => a.name.localeCompare(b.name));
          return { t: t!, partitions, configs };
        }),
      );
      if (ctx.json) {
        ctx.printJson({
          name: t.name,
          topicId: t.topicId,
          internal: t.isInternal,
          replicationFactor: replicationFactor(t),
          partitions,
          configs: configs.map((c) => ({ name: c.name, value: configValue(c), source: c.source })),
        });
        return 0;
      }
      const records = partitions.reduce((sum, p) => sum + (p.logEndOffset ?? 0n) - (p.logStartOffset ?? 0n), 0n);
      ctx.out(
        fields([
          ['Name', t.name],
          ['Topic ID', t.topicId],
          ['Internal', t.isInternal ? 'yes' : 'no'],
          ['Partitions', partitions.length],
          ['Replication factor', replicationFactor(t)],
          ['Offsets retained', records],
        ]),
      );
      ctx.out('\n');
      ctx.out(
        table(
          ['partition', 'leader', 'epoch', 'replicas', 'isr', 'log-start-offset', 'log-end-offset'],
          partitions.map((p) => [
            p.partition,
            p.leader < 0 ? 'none' : p.leader,
            p.leaderEpoch,
            `[${p.replicas.join(',')}]`,
            `[${p.isr.join(',')}]`,
            p.logStartOffset,
            p.logEndOffset,
          ]),
        ),
      );
      ctx.out('\n');
      if (configs.length === 0) {
        ctx.out('Configs: all defaults\n');
      } else {
        ctx.out(
          table(
            ['config', 'value', 'source'],
            configs.map((c) => [c.name, configValue(c), c.source]),
          ),
        );
      }
      return 0;
    },
  });
}

function remove(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'topic delete',
    usage: DELETE_USAGE,
    options: {},
    async run(parsed, ctx) {
      const [name] = positionals(parsed, ['topic name'], this.name);
      await attempt(`Cannot delete topic "${name}"`, () => ctx.withAdmin((admin) => admin.deleteTopics([name!])));
      if (ctx.json) ctx.printJson({ name, deleted: true });
      else ctx.out(`Deleted topic "${name}"\n`);
      return 0;
    },
  });
}

function alterConfig(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'topic alter-config',
    usage: ALTER_CONFIG_USAGE,
    options: {
      set: { type: 'list', short: 's' },
      delete: { type: 'list', short: 'd' },
    },
    async run(parsed, ctx) {
      const [name] = positionals(parsed, ['topic name'], this.name);
      const set = keyValues(parsed.values.set, 'config', this.name) as Array<[string, string]>;
      const deleted = parsed.values.delete ?? [];
      if (set.length === 0 && deleted.length === 0) {
        throw new UsageError('Nothing to change: give --set key=value or --delete key', this.name);
      }
      const both = set.find(([k]) => deleted.includes(k));
      if (both) throw new UsageError(`Config "${both[0]}" is both set and deleted`, this.name);
      await attempt(`Cannot alter configs of topic "${name}"`, () =>
        ctx.withAdmin((admin) =>
          admin.incrementalAlterConfigs([
            {
              type: 'topic',
              name: name!,
              configs: [
                ...set.map(([key, value]) => ({ name: key, value, op: 'set' as const })),
                ...deleted.map((key) => ({ name: key, op: 'delete' as const })),
              ],
            },
          ]),
        ),
      );
      if (ctx.json) {
        ctx.printJson({ name, set: Object.fromEntries(set), deleted });
      } else {
        ctx.out(
          table(
            ['config', 'change'],
            [...set.map(([k, v]) => [k, `set to "${v}"`]), ...deleted.map((k) => [k, 'reset to default'])],
          ),
        );
      }
      return 0;
    },
  });
}

function addPartitions(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'topic add-partitions',
    usage: ADD_PARTITIONS_USAGE,
    options: {
      partitions: { type: 'string', short: 'p' },
      total: { type: 'string' },
    },
    async run(parsed, ctx) {
      const [name] = positionals(parsed, ['topic name'], this.name);
      const { values } = parsed;
      if ((values.partitions === undefined) === (values.total === undefined)) {
        throw new UsageError('Give either -p <partitions to add> or --total <partition count>', this.name);
      }
      const add = values.partitions === undefined ? null : integer(values.partitions, 'partition count', this.name, 1);
      const total = values.total === undefined ? null : integer(values.total, 'partition count', this.name, 1);
      const operation = `Cannot add partitions to topic "${name}"`;
      const { before, after } = await attempt(operation, () =>
        ctx.withAdmin(async (admin) => {
          const [t] = await admin.describeTopics([name!]);
          const before = t!.partitions.length;
          const after = total ?? before + add!;
          if (after <= before) {
            throw new CommandError(
              `${operation}: it has ${before} partitions and Kafka cannot remove partitions (asked for ${after})`,
              'INVALID_PARTITIONS',
            );
          }
          await admin.createPartitions([{ topic: name!, count: after }]);
          return { before, after };
        }),
      );
      if (ctx.json) ctx.printJson({ name, partitions: after, previousPartitions: before });
      else ctx.out(`Topic "${name}" now has ${after} partitions (was ${before})\n`);
      return 0;
    },
  });
}
