import type { Admin, GroupDescription, OffsetResetSpec } from '../../client/admin.ts';
import { KafkaError } from '../../client/errors.ts';
import type { TopicPartition } from '../../client/metadata.ts';
import { integer, positionals, UsageError } from '../args.ts';
import { runCommand, runGroup } from '../command.ts';
import { attempt, CommandError } from '../context.ts';
import { fields, table } from '../output.ts';
import { parsePosition } from '../positions.ts';

export const GROUP_USAGE = `Usage: tributary group <command> [options]

Commands:
  list                      list consumer groups
  describe <group>          state, members, assignments, committed offsets and lag
  reset-offsets <group>     move a group's committed offsets on a topic
  delete <group>            delete a group and its committed offsets

Run "tributary group <command> --help" for a command's options.
`;

const LIST_USAGE = `Usage: tributary group list

Lists the consumer groups of every broker with their state and protocol.
`;

const DESCRIBE_USAGE = `Usage: tributary group describe <group>

Shows a group's state, protocol and members with their assignments, and for every
partition it has offsets for or is assigned: the committed offset, the end offset
(high watermark) and the lag between them.
`;

const RESET_USAGE = `Usage: tributary group reset-offsets <group> --topic <topic> --to <position> [--dry-run]

Moves the committed offsets of a group on a topic, so that its consumers resume there.
The group must have no active members, as with Kafka's kafka-consumer-groups.

Options:
  -t, --topic <topic>        the topic whose offsets move
      --to <position>        earliest (or start), latest (or end), an offset (clamped to
                             each partition's log start and end), or @<timestamp>: the first
                             record at or after it, in ms since the epoch or ISO 8601
  -p, --partition <n>        only this partition (repeatable); default all
      --dry-run              show the new offsets without committing them
`;

const DELETE_USAGE = `Usage: tributary group delete <group>

Deletes a group and its committed offsets. The group must have no active members.
`;

export function group(argv: readonly string[]): Promise<number> {
  return runGroup(argv, 'group', GROUP_USAGE, {
    list,
    describe,
    'reset-offsets': resetOffsets,
    delete: remove,
  });
}

function list(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'group list',
    usage: LIST_USAGE,
    options: {},
    async run(parsed, ctx) {
      positionals(parsed, [], this.name);
      const groups = await attempt('Cannot list groups', () => ctx.withAdmin((admin) => admin.listGroups()));
      if (ctx.json) {
        ctx.printJson(groups);
      } else if (groups.length === 0) {
        ctx.note('No groups\n');
      } else {
        ctx.out(
          table(
            ['group', 'state', 'type', 'protocol-type'],
            groups.map((g) => [g.groupId, g.state, g.type, g.protocolType]),
          ),
        );
      }
      return 0;
    },
  });
}

interface PartitionLag extends TopicPartition {
  /** Null when the group has committed nothing for the partition. */
  committedOffset: bigint | null;
  /** Null when the topic no longer exists. */
  endOffset: bigint | null;
  lag: bigint | null;
  memberId: string | null;
  clientId: string | null;
}

/** Committed offsets, end offsets and lag for every partition the group has offsets for or is assigned. */
async function lagOf(admin: Admin, description: GroupDescription): Promise<PartitionLag[]> {
  const committed = await admin.listGroupOffsets(description.groupId);
  const owners = new Map<string, { memberId: string; clientId: string }>();
  const key = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;
  const partitions = new Map<string, TopicPartition>();
  for (const m of description.members) {
    for (const tp of m.assignment) {
      owners.set(key(tp), { memberId: m.memberId, clientId: m.clientId });
      partitions.set(key(tp), tp);
    }
  }
  for (const c of committed) partitions.set(key(c), { topic: c.topic, partition: c.partition });
  const existing = new Set(await admin.listTopics({ includeInternal: true }));
  const known = [...partitions.values()].filter((tp) => existing.has(tp.topic));
  const ends =
    known.length === 0 ? [] : await admin.listOffsets(known.map((tp) => ({ ...tp, spec: 'latest' as const })));
  const endOf = new Map(known.map((tp, i) => [key(tp), ends[i]!.offset]));
  return [...partitions.values()]
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    .map((tp) => {
      const c = committed.find((o) => o.topic === tp.topic && o.partition === tp.partition);
      const committedOffset = c && c.offset >= 0n ? c.offset : null;
      const endOffset = endOf.get(key(tp)) ?? null;
      const owner = owners.get(key(tp));
      return {
        ...tp,
        committedOffset,
        endOffset,
        lag:
          committedOffset === null || endOffset === null
            ? null
            : endOffset > committedOffset
              ? endOffset - committedOffset
              : 0n,
        memberId: owner?.memberId ?? null,
        clientId: owner?.clientId ?? null,
      };
    });
}

function describe(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'group describe',
    usage: DESCRIBE_USAGE,
    options: {},
    async run(parsed, ctx) {
      const [groupId] = positionals(parsed, ['group id'], this.name);
      const operation = `Cannot describe group "${groupId}"`;
      const { description, offsets } = await attempt(operation, () =>
        ctx.withAdmin(async (admin) => {
          const [description] = await admin.describeGroups([groupId!]);
          const offsets = await lagOf(admin, description!);
          if (description!.state === 'Dead' && description!.members.length === 0 && offsets.length === 0) {
            throw new CommandError(`${operation}: group does not exist`, 'GROUP_ID_NOT_FOUND');
          }
          return { description: description!, offsets };
        }),
      );
      const totalLag = offsets.reduce((sum, o) => sum + (o.lag ?? 0n), 0n);
      if (ctx.json) {
        ctx.printJson({ ...description, offsets, totalLag });
        return 0;
      }
      ctx.out(
        fields([
          ['Group', description.groupId],
          ['State', description.state],
          [
            'Protocol',
            description.type === 'consumer' ? 'consumer (KIP-848)' : `classic (${description.protocolType || '-'})`,
          ],
          ['Assignor', description.assignor || null],
          ['Members', description.members.length],
          ['Total lag', totalLag],
        ]),
      );
      if (description.members.length > 0) {
        ctx.out('\n');
        ctx.out(
          table(
            ['member-id', 'client-id', 'host', 'assignment'],
            description.members.map((m) => [m.memberId, m.clientId, m.clientHost, assignmentText(m.assignment)]),
          ),
        );
      }
      ctx.out('\n');
      if (offsets.length === 0) {
        ctx.out('No committed offsets\n');
      } else {
        ctx.out(
          table(
            ['topic', 'partition', 'committed-offset', 'end-offset', 'lag', 'member-id'],
            offsets.map((o) => [o.topic, o.partition, o.committedOffset, o.endOffset, o.lag, o.memberId]),
          ),
        );
      }
      return 0;
    },
  });
}

/** `orders: 0,1,2; audit: 0` */
function assignmentText(assignment: readonly TopicPartition[]): string {
  if (assignment.length === 0) return '-';
  const byTopic = new Map<string, number[]>();
  for (const tp of assignment) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  return [...byTopic]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([topic, ps]) => `${topic}: ${ps.sort((a, b) => a - b).join(',')}`)
    .join('; ');
}

function resetOffsets(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'group reset-offsets',
    usage: RESET_USAGE,
    options: {
      topic: { type: 'string', short: 't' },
      to: { type: 'string' },
      partition: { type: 'list', short: 'p' },
      'dry-run': { type: 'boolean' },
    },
    async run(parsed, ctx) {
      const [groupId] = positionals(parsed, ['group id'], this.name);
      const { values } = parsed;
      if (values.topic === undefined) throw new UsageError('Missing --topic <topic>', this.name);
      if (values.to === undefined) throw new UsageError('Missing --to <position>', this.name);
      const topic = values.topic;
      const position = parsePosition(values.to, '--to', this.name);
      const spec: OffsetResetSpec =
        position.kind === 'earliest'
          ? { to: 'earliest' }
          : position.kind === 'latest'
            ? { to: 'latest' }
            : position.kind === 'offset'
              ? { to: position.offset }
              : { to: { timestamp: position.timestamp } };
      const partitions = values.partition?.map((p) => integer(p, 'partition', this.name));
      const dryRun = values['dry-run'] ?? false;
      const operation = `Cannot reset offsets of group "${groupId}"`;
      const rows = await attempt(operation, () =>
        ctx.withAdmin(async (admin) => {
          const [description] = await admin.describeGroups([groupId!]);
          const active = description!.members.length;
          if (active > 0 || !['Empty', 'Dead', ''].includes(description!.state)) {
            throw new CommandError(
              `${operation}: the group is ${description!.state} with ${active} active member${active === 1 ? '' : 's'}; stop its consumers first`,
              'NON_EMPTY_GROUP',
            );
          }
          const [t] = await admin.describeTopics([topic]).catch((err: unknown) => {
            if (err instanceof KafkaError && err.code === 'UNKNOWN_TOPIC_OR_PARTITION') {
              throw new CommandError(`${operation}: topic "${topic}" does not exist`, err.code);
            }
            throw err;
          });
          for (const p of partitions ?? []) {
            if (!t!.partitions.some((x) => x.partition === p)) {
              throw new CommandError(
                `${operation}: topic "${topic}" has no partition ${p}`,
                'UNKNOWN_TOPIC_OR_PARTITION',
              );
            }
          }
          const before = await admin.listGroupOffsets(groupId!, [topic]);
          const after = await admin.resetGroupOffsets(groupId!, topic, spec, { partitions, dryRun });
          return after.map((o) => {
            const b = before.find((x) => x.partition === o.partition);
            return {
              topic: o.topic,
              partition: o.partition,
              previousOffset: b && b.offset >= 0n ? b.offset : null,
              offset: o.offset,
            };
          });
        }),
      );
      if (ctx.json) {
        ctx.printJson({ groupId, topic, dryRun, offsets: rows });
        return 0;
      }
      ctx.out(
        table(
          ['topic', 'partition', 'previous-offset', 'new-offset'],
          rows.map((r) => [r.topic, r.partition, r.previousOffset, r.offset]),
        ),
      );
      ctx.note(
        dryRun ? 'Dry run: no offsets were changed\n' : `Reset the offsets of group "${groupId}" on "${topic}"\n`,
      );
      return 0;
    },
  });
}

function remove(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'group delete',
    usage: DELETE_USAGE,
    options: {},
    async run(parsed, ctx) {
      const [groupId] = positionals(parsed, ['group id'], this.name);
      await attempt(`Cannot delete group "${groupId}"`, () => ctx.withAdmin((admin) => admin.deleteGroups([groupId!])));
      if (ctx.json) ctx.printJson({ groupId, deleted: true });
      else ctx.out(`Deleted group "${groupId}"\n`);
      return 0;
    },
  });
}
