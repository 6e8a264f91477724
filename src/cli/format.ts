import type { ConsumerRecord } from '../client/consumer/consumer.ts';
import { UsageError } from './args.ts';

export type RawRecord = ConsumerRecord<Buffer, Buffer>;

type Part = Buffer | ((r: RawRecord) => Buffer | string);

const FIELDS: Readonly<Record<string, (r: RawRecord) => Buffer | string>> = {
  t: (r) => r.topic,
  p: (r) => String(r.partition),
  o: (r) => String(r.offset),
  k: (r) => r.key ?? '',
  K: (r) => String(r.key === null ? -1 : r.key.length),
  v: (r) => r.value ?? '',
  s: (r) => r.value ?? '',
  S: (r) => String(r.value === null ? -1 : r.value.length),
  T: (r) => String(r.timestamp),
  h: (r) => headersText(r),
};

const NULL_TEXT = Buffer.from('NULL');

/** Headers as kcat prints them: `key=value` joined by commas, a null value as `NULL`. */
function headersText(r: RawRecord): Buffer {
  const parts: Buffer[] = [];
  r.headers.forEach((h, i) => {
    if (i > 0) parts.push(Buffer.from(','));
    parts.push(Buffer.from(`${h.key}=`));
    parts.push(h.value ?? NULL_TEXT);
  });
  return Buffer.concat(parts);
}

/** Turns `\n`, `\t`, `\r`, `\\`, `\0` and `\xHH` in literal text into the bytes they stand for. */
function unescapeText(text: string): Buffer {
  const out: number[] = [];
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 0x5c || i + 1 >= bytes.length) {
      out.push(b);
      continue;
    }
    const next = String.fromCharCode(bytes[++i]!);
    if (next === 'n') out.push(10);
    else if (next === 't') out.push(9);
    else if (next === 'r') out.push(13);
    else if (next === '0') out.push(0);
    else if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(bytes.subarray(i + 1, i + 3).toString(), 16));
      i += 2;
    } else out.push(bytes[i]!);
  }
  return Buffer.from(out);
}

/**
 * A kcat-style output format: `%t` topic, `%p` partition, `%o` offset, `%k` key, `%K` key
 * length (−1 for null), `%v` or `%s` value, `%S` value length, `%T` timestamp (ms), `%h`
 * headers, `%%` a percent sign; `\n`, `\t`, `\r`, `\xHH` escapes. Keys and values are
 * written byte for byte.
 */
export function compileFormat(format: string, command = 'consume'): (r: RawRecord) => Buffer {
  const parts: Part[] = [];
  let literal = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') {
      literal += c;
      continue;
    }
    const f = format[++i];
    if (f === '%') {
      literal += '%';
      continue;
    }
    const field = f === undefined ? undefined : FIELDS[f];
    if (field === undefined) {
      throw new UsageError(
        f === undefined
          ? `Invalid format "${format}": it ends with "%"`
          : `Invalid format "${format}": unknown field "%${f}"`,
        command,
      );
    }
    if (literal) parts.push(unescapeText(literal));
    literal = '';
    parts.push(field);
  }
  if (literal) parts.push(unescapeText(literal));
  return (r) => {
    const out = parts.map((p) => {
      if (Buffer.isBuffer(p)) return p;
      const v = p(r);
      return typeof v === 'string' ? Buffer.from(v) : v;
    });
    return Buffer.concat(out);
  };
}

/** A record as one JSON line: key, value and header values as UTF-8 text. */
export function recordJson(r: RawRecord): Record<string, unknown> {
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    timestampType: r.timestampType,
    key: r.key === null ? null : r.key.toString('utf8'),
    value: r.value === null ? null : r.value.toString('utf8'),
    headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString('utf8') })),
  };
}
