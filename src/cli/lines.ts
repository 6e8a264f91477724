/**
 * Lines of a byte stream as Buffers, without their `\n`, byte for byte (no decoding, so any
 * value survives the trip). A last line without a newline counts; an empty input has none.
 * `onBytes` hears how many bytes were read, for a progress bar.
 */
export async function* readLines(
  input: AsyncIterable<Buffer | string>,
  onBytes?: (n: number) => void,
): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    onBytes?.(buf.length);
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      const piece = buf.subarray(start, nl);
      if (pending.length > 0) {
        pending.push(piece);
        yield Buffer.concat(pending);
        pending = [];
      } else {
        yield piece;
      }
      start = nl + 1;
    }
    if (start < buf.length) pending.push(buf.subarray(start));
  }
  if (pending.length > 0) yield Buffer.concat(pending);
}

/** Splits a line at the first separator: key before, value after; no separator means no key. */
export function splitKey(line: Buffer, separator: Buffer | null): { key: Buffer | null; value: Buffer } {
  if (separator === null || separator.length === 0) return { key: null, value: line };
  const at = line.indexOf(separator);
  if (at < 0) return { key: null, value: line };
  return { key: line.subarray(0, at), value: line.subarray(at + separator.length) };
}
