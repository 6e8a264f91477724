// Long protocol fuzz run: mutated frames of every API decode to a value or a DecodeError.
// Usage: npm run fuzz:protocol [-- --frames <per API, default 1000000>] [--seed <n>]
import { API_DEFINITIONS } from '../src/protocol/generated/api-codecs.ts';
import { fuzzCodec } from '../test/helpers/fuzz-decode.ts';

Error.stackTraceLimit = 0;

const argv = process.argv.slice(2);
const opt = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const perApi = opt('--frames', 1_000_000);
const seed = opt('--seed', Date.now() % 1_000_000);

const started = performance.now();
let frames = 0;
let rejected = 0;
for (const api of API_DEFINITIONS) {
  for (const codec of [api.request, api.response]) {
    const r = fuzzCodec(codec, Math.ceil(perApi / 2), seed + api.apiKey);
    frames += r.frames;
    rejected += r.rejected;
  }
  process.stdout.write(`${api.name}: ok\n`);
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `${frames} frames (seed ${seed}) in ${seconds.toFixed(0)} s: ${frames - rejected} decoded, ${rejected} rejected with DecodeError, nothing else`,
);
