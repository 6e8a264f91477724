/** Turns an application value into record bytes; null stays null (no key, or a tombstone). */
export type Serializer<T> = (value: T, topic: string) => Buffer | null;
/** Turns record bytes back into an application value. */
export type Deserializer<T> = (bytes: Buffer, topic: string) => T;

function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export const serializers = {
  /** UTF-8 text. */
  string: ((value: string | null) => (value === null ? null : Buffer.from(value, 'utf8'))) as Serializer<string | null>,
  /** JSON.stringify as UTF-8; null stays a null record field, not the text "null". */
  json: ((value: unknown) =>
    value === null || value === undefined ? null : Buffer.from(JSON.stringify(value), 'utf8')) as Serializer<unknown>,
  /** Bytes as they are; strings as UTF-8, so the untyped default accepts both. */
  bytes: ((value: Uint8Array | string | null) =>
    value === null || value === undefined
      ? null
      : typeof value === 'string'
        ? Buffer.from(value, 'utf8')
        : asBuffer(value)) as Serializer<Uint8Array | string | null>,
};

export const deserializers = {
  string: ((bytes: Buffer) => bytes.toString('utf8')) as Deserializer<string>,
  json: ((bytes: Buffer) => JSON.parse(bytes.toString('utf8'))) as Deserializer<unknown>,
  bytes: ((bytes: Buffer) => bytes) as Deserializer<Buffer>,
};
