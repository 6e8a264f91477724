/**
 * A user's day with the real `tributary` command: create a topic, produce a 100k-line file,
 * consume from a timestamp, see lag in group describe, reset offsets, delete the topic.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBroker } from '../../src/broker/start-broker.ts';
import { fails, json, lines, ok } from './helpers.ts';

test('a day with tributary: create, produce 100k lines, consume from a timestamp, lag, reset, delete', {
  timeout: 300_000,
}, async (t) => {
  const broker = await startBroker();
  const dir = await mkdtemp(join(tmpdir(), 'tributary-day-'));
  t.after(async () => {
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });
  const env = { TRIBUTARY_BROKERS: broker.bootstrap };
  const run = (args: string[], input?: string) => ok(args, { env, input, timeoutMs: 120_000 });

  await run(['topic', 'create', 'clicks', '-p', '3', '-c', 'retention.ms=604800000']);

  const morning = join(dir, 'morning.txt');
  await writeFile(morning, Array.from({ length: 100_000 }, (_, i) => `user-${i % 997}:click ${i}\n`).join(''));
  const produced = await run(['produce', 'clicks', '--file', morning, '-K', ':', '-z', 'zstd']);
  assert.match(produced.stderr, /^Produced 100,000 records \(\d+\.\d MiB\) to "clicks" in \d+\.\d\d s/);

  // Afternoon records come after a timestamp taken between the two loads.
  await new Promise((r) => setTimeout(r, 20));
  const noon = Date.now();
  await new Promise((r) => setTimeout(r, 20));
  const afternoon = Array.from({ length: 50 }, (_, i) => `user-${i}:afternoon ${i}`);
  await run(['produce', 'clicks', '-K', ':'], `${afternoon.join('\n')}\n`);

  const described = await json(['topic', 'describe', 'clicks'], { env });
  const ends = described.partitions.map((p: { logEndOffset: number }) => p.logEndOffset);
  assert.equal(
    ends.reduce((a: number, b: number) => a + b, 0),
    100_050,
  );

  const sinceNoon = lines((await run(['consume', 'clicks', '-o', `@${noon}`, '-e', '-f', '%k:%v\\n'])).stdout);
  assert.deepEqual(sinceNoon.sort(), [...afternoon].sort());

  // A dashboard group reads part of the topic; describe shows the rest as lag.
  const read = await run(['consume', 'clicks', '-g', 'dashboard', '-n', '40000']);
  assert.equal(lines(read.stdout).length, 40_000);
  const group = await json(['group', 'describe', 'dashboard'], { env });
  assert.equal(group.state, 'Empty');
  assert.equal(group.totalLag, 100_050 - 40_000);
  const text = (await run(['group', 'describe', 'dashboard'])).stdout;
  assert.match(text, /^Total lag: +60050$/m);

  // Replay from noon: the group then reads exactly the afternoon.
  const reset = await json(['group', 'reset-offsets', 'dashboard', '--topic', 'clicks', '--to', `@${noon}`], { env });
  assert.equal(reset.offsets.length, 3);
  const replay = lines((await run(['consume', 'clicks', '-g', 'dashboard', '-e', '-f', '%k:%v\\n'])).stdout);
  assert.deepEqual(replay.sort(), [...afternoon].sort());
  assert.equal((await json(['group', 'describe', 'dashboard'], { env })).totalLag, 0);

  await run(['topic', 'delete', 'clicks']);
  assert.equal(
    await fails(['topic', 'describe', 'clicks'], 1, { env }),
    'Cannot describe topic "clicks": topic does not exist',
  );
  const names = (await json<Array<{ name: string }>>(['topic', 'list'], { env })).map((x) => x.name);
  assert.ok(!names.includes('clicks'));
});
