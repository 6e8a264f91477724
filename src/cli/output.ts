import { KafkaError } from '../client/errors.ts';

export type Cell = string | number | bigint | boolean | null | undefined;

function cellText(value: Cell): string {
  if (value === null || value === undefined) return '-';
  return String(value);
}

/**
 * An aligned table with upper-case headings, as rpk prints them. Columns whose cells are all
 * numbers are right-aligned.
 */
export function table(headings: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string {
  const text = rows.map((row) => headings.map((_, i) => cellText(row[i])));
  const numeric = headings.map(
    (_, i) =>
      rows.some((row) => typeof row[i] === 'number' || typeof row[i] === 'bigint') &&
      rows.every((row) => typeof row[i] === 'number' || typeof row[i] === 'bigint' || row[i] == null),
  );
  const widths = headings.map((h, i) => Math.max(h.length, ...text.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1 && !numeric[i] ? c : numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  return `${[line(headings.map((h) => h.toUpperCase())), ...text.map(line)].join('\n')}\n`;
}

/** `key: value` lines with aligned values, for one object (cluster info, a topic's summary). */
export function fields(entries: ReadonlyArray<readonly [string, Cell]>): string {
  const width = Math.max(...entries.map(([k]) => k.length)) + 1;
  return `${entries.map(([k, v]) => `${`${k}:`.padEnd(width)} ${cellText(v)}`).join('\n')}\n`;
}

/**
 * JSON for scripts: bigints (offsets, timestamps) become numbers when they are exact, and
 * strings beyond 2^53.
 */
export function toJson(value: unknown, pretty = true): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      typeof v === 'bigint'
        ? v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(v)
          : v.toString()
        : v,
    pretty ? 2 : undefined,
  );
}

/** Plain phrases for the errors people meet every day, instead of Kafka's code names. */
const PHRASES: Readonly<Record<string, string>> = {
  UNKNOWN_TOPIC_OR_PARTITION: 'topic does not exist',
  UNKNOWN_TOPIC_ID: 'topic does not exist',
  TOPIC_ALREADY_EXISTS: 'topic already exists',
  GROUP_ID_NOT_FOUND: 'group does not exist',
  NON_EMPTY_GROUP: 'the group has active members',
  GROUP_AUTHORIZATION_FAILED: 'not authorized to access the group',
  TOPIC_AUTHORIZATION_FAILED: 'not authorized to access the topic',
  CLUSTER_AUTHORIZATION_FAILED: 'not authorized for this cluster operation',
};

function lowerFirst(s: string): string {
  // Keep acronyms and quoted names as they are.
  return /^[A-Z][a-z]/.test(s) ? s.charAt(0).toLowerCase() + s.slice(1) : s;
}

/**
 * The reason part of an error, without the operation the client already named and without
 * Kafka's code in parentheses: `Cannot create topic "a": it already exists (TOPIC_ALREADY_EXISTS)`
 * → `it already exists`.
 */
export function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let message = err.message.split('\n')[0]!.trim();
  if (err instanceof KafkaError) {
    message = message.replace(new RegExp(`\\s*\\(${err.code}\\)$`), '');
    // The client words a bare code as `Cannot …: Unknown topic or partition`; prefer a plain phrase.
    const generic = err.code
      .toLowerCase()
      .replace(/_/g, ' ')
      .replace(/^./, (c) => c.toUpperCase());
    const phrase = PHRASES[err.code];
    if (phrase && (message === generic || message.endsWith(`: ${generic}`))) {
      message = message.slice(0, message.length - generic.length) + phrase;
    }
  }
  return message.replace(/\.$/, '');
}

/**
 * One line saying which operation failed and why, in the project's style:
 * `Cannot create topic "orders": topic already exists`. When the client already named an
 * operation on the same things (`Cannot describe topic "orders": …` inside `Cannot consume
 * from topic "orders"`), only its reason is kept.
 */
export function failure(operation: string, err: unknown): string {
  const message = reason(err);
  const inner = /^(Cannot [^:]*?): (.+)$/.exec(message);
  if (inner) {
    const [, op, rest] = inner as unknown as [string, string, string];
    const names = op.match(/"[^"]*"/g) ?? [];
    if (op === operation || names.every((n) => operation.includes(n))) return `${operation}: ${lowerFirst(rest)}`;
  }
  return `${operation}: ${lowerFirst(message)}`;
}

/** The code scripts can switch on: Kafka's error name or the client's. */
export function errorCode(err: unknown): string | null {
  return err instanceof KafkaError ? err.code : null;
}
