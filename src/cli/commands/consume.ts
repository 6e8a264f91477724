import { once } from 'node:events';
import { Consumer } from '../../client/consumer/consumer.ts';
import type { TopicPartition } from '../../client/metadata.ts';
import { integer, UsageError } from '../args.ts';
import { runCommand } from '../command.ts';
import { attempt, CommandError } from '../context.ts';
import { compileFormat, type RawRecord, recordJson } from '../format.ts';
import { toJson } from '../output.ts';
import { type Position, parsePosition } from '../positions.ts';
import { ProgressBar } from '../progress.ts';

const CONSUME_USAGE = `Usage: tributary consume <topic>… [-o <position>] [-n <count>] [-g <group>] [-f <format>] [options]

Prints the records of topics to stdout, one per line by default (the value alone).
Without -g it reads every partition (or the one given with -p) by manual assignment and
commits nothing. With -g it joins the consumer group, reads the partitions the group
assigns it from the group's committed offsets, and commits what it printed. With -e and
stdout going to a file or pipe, a progress bar shows on stderr when that is a terminal.

Options:
  -o, --offset <position>      where to start: start (default), end, an offset, or
                               @<timestamp>: the first record at or after it (ms since
                               the epoch, or ISO 8601). With -g: where to start on
                               partitions without a committed offset (start or end)
  -n, --count <n>              exit after n records
  -e, --exit                   exit once every partition is read to its end
  -g, --group <group>          consume as a member of this group and commit offsets
      --group-protocol <p>     consumer (KIP-848, the default) or classic
  -p, --partition <n>          only this partition (repeatable; not with -g)
  -f, --format <format>        kcat-style output format (default "%v\\n"):
                                 %t topic  %p partition  %o offset  %T timestamp (ms)
                                 %k key  %K key length  %v (or %s) value  %S value length
                                 %h headers (k=v,k2=v2)  %% a percent sign
                                 \\n \\t \\r \\xHH escapes
      --read-committed         skip records of aborted transactions and stop at the
                               last stable offset
      --json                   one JSON object per record and line (UTF-8 key and value)

Examples:
  tributary consume orders -o start -e
  tributary consume orders -g billing -f '%p:%o %k=%v\\n'
  tributary consume orders -o @1700000000000 -n 10
`;

export function consume(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'consume',
    usage: CONSUME_USAGE,
    options: {
      offset: { type: 'string', short: 'o' },
      count: { type: 'string', short: 'n' },
      exit: { type: 'boolean', short: 'e' },
      group: { type: 'string', short: 'g' },
      'group-protocol': { type: 'string' },
      partition: { type: 'list', short: 'p' },
      format: { type: 'string', short: 'f' },
      'read-committed': { type: 'boolean' },
    },
    async run(parsed, ctx) {
      const topics = [...new Set(parsed.positionals)];
      if (topics.length === 0) throw new UsageError('Missing topic for "consume"', this.name);
      const { values } = parsed;
      const groupId = values.group;
      if (groupId !== undefined && groupId.length === 0) throw new UsageError('The group id is empty', this.name);
      const position: Position = parsePosition(values.offset ?? 'start', '--offset', this.name);
      if (groupId !== undefined && position.kind !== 'earliest' && position.kind !== 'latest') {
        throw new UsageError(
          'With -g the group\'s committed offsets decide where to start: -o takes start or end only (move a group with "tributary group reset-offsets")',
          this.name,
        );
      }
      const groupProtocol = values['group-protocol'];
      if (groupProtocol !== undefined && groupProtocol !== 'consumer' && groupProtocol !== 'classic') {
        throw new UsageError(`Invalid --group-protocol "${groupProtocol}": expected consumer or classic`, this.name);
      }
      if (groupId === undefined && groupProtocol !== undefined) {
        throw new UsageError('--group-protocol needs -g <group>', this.name);
      }
      const partitions = values.partition?.map((p) => integer(p, 'partition', this.name));
      if (partitions !== undefined && groupId !== undefined) {
        throw new UsageError('-p cannot be used with -g: the group assigns partitions', this.name);
      }
      const count =
        values.count === undefined ? null : integer(values.count, 'count', this.name, 1, Number.MAX_SAFE_INTEGER);
      const exitAtEnd = values.exit ?? false;
      const render = ctx.json
        ? (r: RawRecord) => Buffer.from(`${toJson(recordJson(r), false)}\n`)
        : compileFormat(values.format ?? '%v\\n', this.name);

      const operation = `Cannot consume from ${topics.length === 1 ? 'topic' : 'topics'} ${topics.map((t) => `"${t}"`).join(', ')}`;
      // Partitions to read without a group: all of each topic's, or the ones given.
      const assigned: TopicPartition[] = [];
      await attempt(operation, () =>
        ctx.withAdmin(async (admin) => {
          const described = await admin.describeTopics(topics);
          for (const t of described) {
            const all = t.partitions.map((p) => p.partition);
            for (const p of partitions ?? []) {
              if (!all.includes(p)) {
                throw new CommandError(
                  `${operation}: topic "${t.name}" has ${all.length} partition${all.length === 1 ? '' : 's'}, so no partition ${p}`,
                  'UNKNOWN_TOPIC_OR_PARTITION',
                );
              }
            }
            for (const p of partitions ?? all) assigned.push({ topic: t.name, partition: p });
          }
        }),
      );

      const consumer = new Consumer({
        ...ctx.clientOptions(),
        groupId,
        groupProtocol: groupProtocol as 'consumer' | 'classic' | undefined,
        // Commits follow what was printed, below: auto-commit would also commit on close.
        autoCommit: false,
        autoOffsetReset: position.kind === 'latest' ? 'latest' : 'earliest',
        isolationLevel: values['read-committed'] ? 'read_committed' : 'read_uncommitted',
      });
      if (groupId === undefined) {
        consumer.assign(assigned);
        if (position.kind === 'earliest') consumer.seekToBeginning();
        else if (position.kind === 'latest') consumer.seekToEnd();
        else if (position.kind === 'offset') for (const tp of assigned) consumer.seek(tp, position.offset);
        else consumer.seekToTimestamp(position.timestamp);
      } else {
        consumer.subscribe(topics);
      }

      let stopped = false;
      let stdoutClosed = false;
      const stop = () => {
        stopped = true;
      };
      const onStdoutError = () => {
        // A reader that went away (`| head`) ends the consumption, not in an error.
        stdoutClosed = true;
        stopped = true;
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      process.stdout.on('error', onStdoutError);
      /** Writes to stdout, waiting while its buffer is full; false once the reader is gone. */
      const write = async (bytes: Buffer): Promise<boolean> => {
        try {
          if (!process.stdout.write(bytes)) {
            await Promise.race([once(process.stdout, 'drain'), once(process.stdout, 'close')]);
          }
        } catch {
          onStdoutError();
        }
        return !stdoutClosed;
      };
      const atEnd = () => {
        const tps = consumer.assignment();
        return tps.length > 0 && tps.every((tp) => consumer.currentLag(tp) === 0n);
      };
      // Reading a topic to its end into a file or pipe is long work: show how far it is.
      const progress =
        exitAtEnd && !ctx.json && process.stdout.isTTY !== true
          ? new ProgressBar(process.stderr, 0, { unit: 'items' })
          : null;
      let printed = 0;
      /** The offset after the last record printed, per partition: what a group may commit. */
      const printedUpTo = new Map<string, TopicPartition & { offset: bigint }>();
      let lastCommit = performance.now();
      try {
        await attempt(operation, async () => {
          while (!stopped) {
            const max = count === null ? 500 : Math.min(500, count - printed);
            const records = await consumer.poll({ timeoutMs: 200, maxRecords: max });
            for (const r of records) {
              if (stdoutClosed) break;
              if (!(await write(render(r)))) break;
              printed++;
              printedUpTo.set(`${r.topic}:${r.partition}`, {
                topic: r.topic,
                partition: r.partition,
                offset: r.offset + 1n,
              });
            }
            // commit() sends nothing when nothing new was handed out.
            if (groupId !== undefined && performance.now() - lastCommit >= 1_000) {
              await consumer.commit();
              lastCommit = performance.now();
            }
            if (progress?.enabled) {
              const left = consumer.assignment().reduce((sum, tp) => sum + Number(consumer.currentLag(tp) ?? 0n), 0);
              progress.total = printed + left;
              progress.update(printed, printed);
            }
            if (count !== null && printed >= count) break;
            if (exitAtEnd && atEnd()) break;
          }
          // Records poll handed out but stdout never took are not committed.
          if (groupId !== undefined) await consumer.commit(stdoutClosed ? [...printedUpTo.values()] : undefined);
        });
      } finally {
        progress?.finish();
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
        await consumer.close();
        process.stdout.removeListener('error', onStdoutError);
      }
      return 0;
    },
  });
}
