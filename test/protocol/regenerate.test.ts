import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { generate } from '../../scripts/gen-protocol.ts';

const root = new URL('../..', import.meta.url).pathname;
const schemas = join(root, '../shared/kafka-protocol');
const generatedDir = join(root, 'src/protocol/generated');

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

test('regenerating the protocol codecs from the schemas changes nothing', (t) => {
  if (!existsSync(join(schemas, 'messages'))) {
    if (process.env.CI === 'true') assert.fail(`Schemas not found at ${schemas}: CI needs shared/ beside the clone`);
    t.skip(`SKIPPED: schemas not found at ${schemas}; cannot check the generated code is current`);
    return;
  }
  const expected = generate(schemas);
  const committed = new Map(listFiles(generatedDir).map((f) => [relative(generatedDir, f), readFileSync(f, 'utf8')]));
  assert.deepEqual([...committed.keys()].sort(), [...expected.keys()].sort(), 'generated file set differs');
  for (const [name, text] of expected) {
    assert.ok(committed.get(name) === text, `src/protocol/generated/${name} is stale: run npm run gen:protocol`);
  }
});
