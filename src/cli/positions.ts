import { UsageError } from './args.ts';

/** Where to start reading (consume -o) or where to move a group (group reset-offsets --to). */
export type Position =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: bigint }
  | { kind: 'timestamp'; timestamp: bigint };

/**
 * `start`/`beginning`/`earliest`, `end`/`latest`, an offset, or `@` with milliseconds since
 * the epoch or an ISO 8601 date (`@1700000000000`, `@2024-05-01T12:00:00Z`).
 */
export function parsePosition(text: string, what: string, command: string): Position {
  const t = text.trim();
  if (t === 'start' || t === 'beginning' || t === 'earliest') return { kind: 'earliest' };
  if (t === 'end' || t === 'latest') return { kind: 'latest' };
  if (/^\d+$/.test(t)) return { kind: 'offset', offset: BigInt(t) };
  if (t.startsWith('@')) {
    const at = t.slice(1);
    if (/^\d+$/.test(at)) return { kind: 'timestamp', timestamp: BigInt(at) };
    const ms = Date.parse(at);
    if (at.length > 0 && !Number.isNaN(ms)) return { kind: 'timestamp', timestamp: BigInt(ms) };
  }
  throw new UsageError(
    `Invalid ${what} "${text}": expected start, end, an offset or @<timestamp in ms or ISO 8601>`,
    command,
  );
}
