import { DecodeError, EncodeError } from './errors.ts';
import { Reader } from './reader.ts';
import { Writer } from './writer.ts';

/** A tagged field this code does not know, kept so that it can be written back unchanged. */
export interface TaggedField {
  tag: number;
  data: Buffer;
}

/** The structure of a schema field, kept for tests and tools that walk messages generically. */
export interface FieldSchema {
  /** camelCase name, as in the generated interfaces. */
  name: string;
  /** Schema type: a primitive, `[]type`, or a struct name. */
  type: string;
  versions: VersionRange;
  nullable: VersionRange | null;
  tag: number | null;
  taggedVersions: VersionRange | null;
  /** For flexible messages: the field's own flexible range where it overrides the message's. */
  flexible?: VersionRange | null;
  /** The value a reader gives the field when it is absent (a fresh object each time). */
  readonly default: unknown;
  /** Struct fields, for struct and struct-array types. */
  fields?: readonly FieldSchema[];
}

/** Inclusive version range; `max` is 0x7fff for an open range such as "3+". */
export interface VersionRange {
  min: number;
  max: number;
}

export interface MessageSchema {
  name: string;
  /** −1 for headers and data schemas. */
  apiKey: number;
  type: 'request' | 'response' | 'header' | 'data';
  validVersions: VersionRange;
  /** null when no version is flexible. */
  flexibleVersions: VersionRange | null;
  deprecatedVersions: VersionRange | null;
  latestVersionUnstable: boolean;
  listeners: readonly string[];
  fields: readonly FieldSchema[];
}

export interface MessageCodec<T> {
  readonly name: string;
  readonly apiKey: number;
  readonly schema: MessageSchema;
  /** Writes the message in the given version onto a writer. */
  write(writer: Writer, message: T, version: number): void;
  /** Reads one message in the given version from a reader, advancing it. */
  read(reader: Reader, version: number): T;
  /** Encodes the message in the given version. */
  encode(message: T, version: number): Buffer;
  /** Decodes the message in the given version from bytes or a reader. Throws only DecodeError. */
  decode(input: Reader | Uint8Array, version: number): T;
  /** Whether the version uses the flexible (compact, tagged) encoding. */
  isFlexible(version: number): boolean;
}

export function inRange(range: VersionRange | null, version: number): boolean {
  return range !== null && version >= range.min && version <= range.max;
}

/** Builds a codec around the generated read and write functions of a message. */
export function defineMessage<T>(
  schema: MessageSchema,
  write: (w: Writer, m: T, v: number) => void,
  read: (r: Reader, v: number) => T,
): MessageCodec<T> {
  const { min, max } = schema.validVersions;
  const checkVersion = (version: number, fail: (message: string) => Error): void => {
    if (!Number.isInteger(version) || version < min || version > max) {
      throw fail(`${schema.name} has no version ${version} (valid ${min}-${max})`);
    }
  };
  return {
    name: schema.name,
    apiKey: schema.apiKey,
    schema,
    write(writer, message, version) {
      checkVersion(version, (m) => new EncodeError(m));
      write(writer, message, version);
    },
    read(reader, version) {
      checkVersion(version, (m) => new DecodeError(m, reader.offset));
      return guardDecode(reader, () => read(reader, version));
    },
    encode(message, version) {
      const writer = new Writer();
      this.write(writer, message, version);
      return writer.toBuffer();
    },
    decode(input, version) {
      const reader = input instanceof Reader ? input : new Reader(input);
      return this.read(reader, version);
    },
    isFlexible(version) {
      return inRange(schema.flexibleVersions, version);
    },
  };
}

/**
 * Turns anything but a DecodeError thrown while decoding into one. The generated readers
 * check every length, so this is a backstop: a decoder's caller can rely on one error type.
 */
function guardDecode<T>(reader: Reader, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError(`Malformed input (${(err as Error).message})`, reader.offset);
  }
}

/** Throws when a null is written where the version does not allow one. */
export function notNull<T>(value: T | null | undefined, field: string): T {
  if (value === null || value === undefined) throw new EncodeError(`Field "${field}" cannot be null in this version`);
  return value;
}

/** Reads the count of a tag section; each tagged field takes at least two bytes. */
export function readTagCount(r: Reader): number {
  const at = r.offset;
  const n = r.uvarint();
  if (n * 2 > r.remaining) throw new DecodeError(`Tagged field count ${n} exceeds the ${r.remaining} bytes left`, at);
  return n;
}

/**
 * Writes a tag section from the known tagged fields that have a value to write (each a tag
 * and a function writing its value) and the unknown ones kept from decoding, in tag order.
 */
export function writeTaggedFields(
  w: Writer,
  known: Array<[number, (w: Writer) => void]>,
  unknown: readonly TaggedField[] | undefined,
): void {
  if (known.length === 0 && (unknown === undefined || unknown.length === 0)) {
    w.uvarint(0);
    return;
  }
  const all: Array<[number, Buffer]> = known.map(([tag, writeValue]) => {
    const sub = new Writer(32);
    writeValue(sub);
    return [tag, sub.toBuffer()];
  });
  for (const field of unknown ?? []) all.push([field.tag, field.data]);
  all.sort((a, b) => a[0] - b[0]);
  w.uvarint(all.length);
  for (const [tag, data] of all) w.uvarint(tag).uvarint(data.length).raw(data);
}

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
