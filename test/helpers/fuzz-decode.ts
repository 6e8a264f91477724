import type { MessageCodec } from '../../src/protocol/codec.ts';
import { DecodeError } from '../../src/protocol/errors.ts';
import { API_BY_KEY } from '../../src/protocol/generated/api-codecs.ts';
import { readRequestHeader, writeRequestHeader } from '../../src/protocol/headers.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';
import { mutator } from './mutate.ts';
import { randomMessage, versionsOf } from './random-message.ts';

export interface FuzzResult {
  frames: number;
  decoded: number;
  rejected: number;
}

/** A request frame body as a broker reads it: header, then the body in the header's version. */
function decodeRequestFrame(bytes: Buffer): void {
  const r = new Reader(bytes);
  const header = readRequestHeader(r);
  const api = API_BY_KEY.get(header.requestApiKey);
  if (!api) return;
  const { min, max } = api.request.schema.validVersions;
  if (header.requestApiVersion < min || header.requestApiVersion > max) return;
  api.request.read(r, header.requestApiVersion);
}

/**
 * Decodes `frames` mutations of valid messages of the codec (as whole request frames for
 * requests) and throws unless each gives a value or a DecodeError.
 */
export function fuzzCodec(codec: MessageCodec<unknown>, frames: number, seed: number): FuzzResult {
  const versions = versionsOf(codec.schema);
  const isRequest = codec.schema.type === 'request';
  const seeds = versions.flatMap((version, i) =>
    [0, 1, 2].map((k) => {
      const body = codec.encode(randomMessage(codec.schema, version, seed + i * 7 + k), version);
      if (!isRequest) return { version, bytes: body };
      const w = new Writer();
      writeRequestHeader(w, {
        requestApiKey: codec.apiKey,
        requestApiVersion: version,
        correlationId: i,
        clientId: 'fuzz',
      });
      w.raw(body);
      return { version, bytes: Buffer.from(w.toBuffer()) };
    }),
  );
  const mutate = mutator(seed);
  const result: FuzzResult = { frames: 0, decoded: 0, rejected: 0 };
  for (let i = 0; i < frames; i++) {
    const s = seeds[i % seeds.length]!;
    const bytes = mutate(s.bytes);
    try {
      if (isRequest) decodeRequestFrame(bytes);
      else codec.decode(bytes, s.version);
      result.decoded++;
    } catch (err) {
      if (!(err instanceof DecodeError)) {
        throw new Error(`${codec.name} v${s.version}: ${String(err)} for input ${bytes.toString('hex')}`);
      }
      result.rejected++;
    }
    result.frames++;
  }
  return result;
}
