import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordMetadata } from '../../client/producer/batch.ts';
import { type Acks, type CompressionType, Producer } from '../../client/producer/producer.ts';
import { integer, keyValues, positionals, UsageError } from '../args.ts';
import { runCommand } from '../command.ts';
import { attempt, CommandError } from '../context.ts';
import { readLines, splitKey } from '../lines.ts';
import { errorCode, failure } from '../output.ts';
import { humanBytes, ProgressBar } from '../progress.ts';

const CODECS: readonly CompressionType[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

const PRODUCE_USAGE = `Usage: tributary produce <topic> [--file <path>] [options]

Writes one record per line of stdin (or of --file) to a topic, byte for byte, and
prints a summary (records, bytes, time) to stderr. A progress bar shows on files when
stderr is a terminal.

Options:
      --file <path>            read lines from a file instead of stdin
  -K, --key-separator <sep>    split each line at the first <sep>: key before, value after
                               (a line without it has no key)
  -H, --header <key=value>     a header on every record (repeatable; "key" alone: null value)
  -z, --compression <codec>    none, gzip, snappy, lz4 or zstd (default none)
  -p, --partition <n>          write to this partition (default: by key, as Kafka's partitioner)
      --acks <acks>            all (or -1, the default), 1 or 0
      --rate <n>               at most n records per second (e.g. 100 or 100/s)

Examples:
  seq 1 1000 | tributary produce numbers
  tributary produce orders --file orders.txt -K : -H source=import -z zstd
`;

function parseAcks(text: string, command: string): Acks {
  if (text === 'all' || text === '-1') return 'all';
  if (text === '0') return 0;
  if (text === '1') return 1;
  throw new UsageError(`Invalid --acks "${text}": expected all, -1, 1 or 0`, command);
}

function parseRate(text: string, command: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(text.trim());
  const rate = m ? Number(m[1]) : Number.NaN;
  if (!(rate > 0)) throw new UsageError(`Invalid --rate "${text}": expected records per second, e.g. 100/s`, command);
  return rate;
}

export function produce(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'produce',
    usage: PRODUCE_USAGE,
    options: {
      file: { type: 'string' },
      'key-separator': { type: 'string', short: 'K' },
      header: { type: 'list', short: 'H' },
      compression: { type: 'string', short: 'z' },
      partition: { type: 'string', short: 'p' },
      acks: { type: 'string' },
      rate: { type: 'string' },
    },
    async run(parsed, ctx) {
      const [topic] = positionals(parsed, ['topic'], this.name);
      const { values } = parsed;
      const compression = (values.compression ?? 'none') as CompressionType;
      if (!CODECS.includes(compression)) {
        throw new UsageError(`Invalid compression "${compression}": expected ${CODECS.join(', ')}`, this.name);
      }
      const headers = keyValues(values.header, 'header', this.name, true).map(([key, value]) => ({ key, value }));
      const partition = values.partition === undefined ? undefined : integer(values.partition, 'partition', this.name);
      const acks = values.acks === undefined ? 'all' : parseAcks(values.acks, this.name);
      const rate = values.rate === undefined ? null : parseRate(values.rate, this.name);
      const separator = values['key-separator'] === undefined ? null : Buffer.from(values['key-separator']);
      if (separator !== null && separator.length === 0) throw new UsageError('The key separator is empty', this.name);

      const operation = `Cannot produce to topic "${topic}"`;
      const total =
        values.file === undefined
          ? 0
          : await attempt(`Cannot read "${values.file}"`, async () => (await stat(values.file!)).size);
      const input = values.file === undefined ? process.stdin : createReadStream(values.file);
      const producer = new Producer({ ...ctx.clientOptions(), acks, compression, maxBlockMs: ctx.timeoutMs });
      const progress = values.file === undefined ? null : new ProgressBar(process.stderr, total);
      const started = performance.now();
      let records = 0;
      let bytes = 0;
      let read = 0;
      let failed: unknown = null;
      const perPartition = new Map<number, number>();
      const delivered = (m: RecordMetadata) => perPartition.set(m.partition, (perPartition.get(m.partition) ?? 0) + 1);
      let interrupted = false;
      const onSignal = () => {
        interrupted = true;
        if ('destroy' in input) input.destroy();
      };
      process.once('SIGINT', onSignal);
      try {
        // Fail before reading stdin when the cluster cannot be reached or the topic does not exist.
        await attempt(operation, async () => {
          // Asking for the topic on connect lets a broker with auto.create.topics.enable create it.
          producer.cluster.addTopics([topic!]);
          await producer.connect();
          if (!producer.cluster.metadata.topics.has(topic!)) {
            throw new CommandError(`${operation}: topic does not exist`, 'UNKNOWN_TOPIC_OR_PARTITION');
          }
          const { partitions } = await producer.cluster.topicMetadata(topic!, ctx.timeoutMs);
          if (partition !== undefined && partition >= partitions.length) {
            throw new CommandError(
              `${operation}: it has ${partitions.length} partition${partitions.length === 1 ? '' : 's'}, so no partition ${partition}`,
              'UNKNOWN_TOPIC_OR_PARTITION',
            );
          }
        });
        for await (const line of readLines(input, (n) => {
          read += n;
        })) {
          if (failed !== null || interrupted) break;
          if (rate !== null) {
            const due = started + (records * 1000) / rate;
            const wait = due - performance.now();
            if (wait > 1) await sleep(wait);
          }
          const { key, value } = splitKey(line, separator);
          const { delivery } = await attempt(operation, () =>
            producer.enqueue({ topic: topic!, key, value, headers, partition }),
          );
          delivery.then(delivered, (err: unknown) => {
            failed ??= err;
          });
          records++;
          bytes += value.length + (key?.length ?? 0);
          progress?.update(read, records);
        }
        if (failed === null) {
          await producer.flush().catch((err: unknown) => {
            failed ??= (err as { cause?: unknown }).cause ?? err;
          });
        }
      } catch (err) {
        if (!interrupted) throw err;
      } finally {
        process.removeListener('SIGINT', onSignal);
        progress?.finish();
        await producer.close({ timeoutMs: failed === null ? 30_000 : 0 });
      }
      if (failed !== null) throw new CommandError(failure(operation, failed), errorCode(failed));
      const ms = performance.now() - started;
      const seconds = ms / 1000;
      const summary = {
        topic,
        records,
        bytes,
        durationMs: Math.round(ms),
        recordsPerSecond: seconds > 0 ? Math.round(records / seconds) : records,
        partitions: Object.fromEntries([...perPartition].sort(([a], [b]) => a - b)),
      };
      ctx.note(
        `Produced ${records.toLocaleString('en-US')} record${records === 1 ? '' : 's'} (${humanBytes(bytes)}) to "${topic}" in ${seconds.toFixed(2)} s` +
          (records > 0 ? ` (${summary.recordsPerSecond.toLocaleString('en-US')} records/s)` : '') +
          (interrupted ? ', interrupted' : '') +
          '\n',
      );
      if (ctx.json) ctx.printJson(summary);
      return interrupted ? 130 : 0;
    },
  });
}
