/**
 * Interop with kcat (librdkafka): what `tributary produce` writes, kcat reads identically,
 * and what kcat writes, `tributary consume` prints identically; keys, values, headers, every
 * codec, with the codec checked in the stored batches.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { Admin } from '../../src/client/index.ts';
import { kcat, kcatTest, ok } from './helpers.ts';

const TIMEOUT = 120_000;
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
const CODEC_IDS: Record<(typeof CODECS)[number], number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** Values long and repetitive enough that every codec shrinks them (librdkafka sends a batch uncompressed otherwise). */
const LINES = [
  `order-1:${'tributary '.repeat(20)}#1`,
  `order-2:{"id":2,"note":"${'é'.repeat(30)} ünïcödé ✓"}`,
  `order-3:a value with: colons, spaces and\ttabs ${'x'.repeat(100)}`,
  'order-4:',
  `no key on this line ${'y'.repeat(100)}`,
];

/** The codec of every record batch stored in partition 0 of a topic (attributes, low 3 bits). */
async function storedCodecs(dataDir: string, topic: string): Promise<number[]> {
  const log = await readFile(join(dataDir, `${topic}-0`, '00000000000000000000.log'));
  const codecs: number[] = [];
  for (let pos = 0; pos + 23 <= log.length; pos += 12 + log.readInt32BE(pos + 8)) {
    codecs.push(log.readInt16BE(pos + 21) & 0x07);
  }
  return codecs;
}

describe('tributary and kcat read each other', { timeout: 600_000 }, () => {
  let broker: StartedBroker;
  let admin: Admin;
  before(async () => {
    broker = await startBroker();
    admin = new Admin({ bootstrap: broker.bootstrap });
  });
  after(async () => {
    await admin.close();
    await broker.close();
  });

  const consumeWithKcat = async (topic: string) => {
    const result = await kcat(['-C', '-b', broker.bootstrap, '-t', topic, '-e', '-q', '-f', '%k|%s|%h\\n']);
    assert.equal(result.code, 0, `kcat -C failed: ${result.stderr}`);
    return result.stdout;
  };
  const consumeWithTributary = async (topic: string) =>
    (await ok(['consume', topic, '-e', '-f', '%k|%s|%h\\n', '--brokers', broker.bootstrap])).stdout;

  for (const codec of CODECS) {
    kcatTest(
      `tributary produce -z ${codec}: kcat reads the same keys, values and headers`,
      { timeout: TIMEOUT },
      async () => {
        const topic = `to-kcat-${codec}`;
        await admin.createTopic(topic, { partitions: 1 });
        const input = `${LINES.join('\n')}\n`;
        const args = ['produce', topic, '-K', ':', '-z', codec, '-H', 'source=tributary', '-H', 'trace=', '-H', 'flag'];
        await ok([...args, '-H', 'source=twice', '--brokers', broker.bootstrap], { input });

        const expected = LINES.map((line) => {
          const at = line.indexOf(':');
          const [key, value] = at < 0 ? ['', line] : [line.slice(0, at), line.slice(at + 1)];
          return `${key}|${value}|source=tributary,trace=,flag=NULL,source=twice\n`;
        }).join('');
        assert.equal(await consumeWithKcat(topic), expected);
        assert.equal(await consumeWithTributary(topic), expected, 'and tributary prints what kcat prints');
        const codecs = await storedCodecs(broker.dataDir, topic);
        assert.ok(codecs.length > 0);
        assert.deepEqual(new Set(codecs), new Set([CODEC_IDS[codec]]), `batches stored with ${codec}`);
      },
    );

    kcatTest(`kcat -P -z ${codec}: tributary consume prints what kcat prints`, { timeout: TIMEOUT }, async () => {
      const topic = `from-kcat-${codec}`;
      await admin.createTopic(topic, { partitions: 1 });
      const produced = await kcat(
        ['-P', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-K:', '-z', codec, '-H', 'h=v', '-H', 'empty='],
        `${LINES.join('\n')}\n`,
      );
      assert.equal(produced.code, 0, `kcat -P failed: ${produced.stderr}`);

      const expected = LINES.map((line) => {
        const at = line.indexOf(':');
        const [key, value] = at < 0 ? ['', line] : [line.slice(0, at), line.slice(at + 1)];
        return `${key}|${value}|h=v,empty=\n`;
      }).join('');
      assert.equal(await consumeWithTributary(topic), expected);
      assert.equal(await consumeWithKcat(topic), expected, 'and kcat prints the same');
      // librdkafka sends a batch uncompressed when compressing would not make it smaller (small
      // batches, as when it flushes early under load), so some batches may be plain.
      const codecs = new Set(await storedCodecs(broker.dataDir, topic));
      assert.ok(codecs.has(CODEC_IDS[codec]!), `kcat stored no ${codec} batch: ${[...codecs]}`);
      assert.ok(
        [...codecs].every((c) => c === CODEC_IDS[codec] || c === 0),
        `kcat stored ${[...codecs]}`,
      );
    });
  }

  kcatTest(
    'key and value lengths, offsets, partitions and timestamps agree with kcat',
    { timeout: TIMEOUT },
    async () => {
      const topic = 'kcat-fields';
      await admin.createTopic(topic, { partitions: 3 });
      await ok(['produce', topic, '-K', ':', '--brokers', broker.bootstrap], {
        input: 'a:1\nb:22\nc:333\n:empty key\nno key\nd:\n',
      });
      const format = '%t %p %o %K %S %T %k=%s\\n';
      const sorted = (text: string) => text.split('\n').filter(Boolean).sort();
      const theirs = await kcat(['-C', '-b', broker.bootstrap, '-t', topic, '-e', '-q', '-f', format]);
      assert.equal(theirs.code, 0, theirs.stderr);
      const ours = await ok(['consume', topic, '-e', '-f', format, '--brokers', broker.bootstrap]);
      assert.equal(sorted(theirs.stdout).length, 6);
      assert.deepEqual(sorted(ours.stdout), sorted(theirs.stdout));
    },
  );
});
