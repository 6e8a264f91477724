/**
 * A small argument parser for the CLI. node:util parseArgs refuses option values that
 * start with a dash (`--acks -1`, `-o -5`) and words its errors over several lines; this
 * one takes the next word as the value of an option that needs one and fails with one line.
 */

/** Bad usage: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  /** The command whose --help explains the usage (`topic create`), if known. */
  readonly command: string | null;
  constructor(message: string, command: string | null = null) {
    super(message);
    this.command = command;
  }
}

export type OptionType = 'string' | 'boolean' | 'list';

export interface OptionSpec {
  type: OptionType;
  short?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export type ParsedValues<S extends OptionSpecs> = {
  [K in keyof S]?: S[K]['type'] extends 'boolean' ? boolean : S[K]['type'] extends 'list' ? string[] : string;
};

export interface Parsed<S extends OptionSpecs> {
  values: ParsedValues<S>;
  positionals: string[];
}

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  brokers: { type: 'string', short: 'b' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpecs;

export type GlobalValues = ParsedValues<typeof GLOBAL_OPTIONS>;

export function parse<S extends OptionSpecs>(argv: readonly string[], specs: S, command: string): Parsed<S> {
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short) byShort.set(spec.short, name);
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const set = (name: string, spec: OptionSpec, value: string | boolean, shown: string) => {
    if (spec.type === 'list') {
      const list = (values[name] as string[] | undefined) ?? [];
      list.push(value as string);
      values[name] = list;
    } else if (spec.type === 'string' && values[name] !== undefined && values[name] !== value) {
      throw new UsageError(`Option "${shown}" is given twice`, command);
    } else {
      values[name] = value;
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    let shown = arg;
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
      shown = `--${name}`;
      if (!(name in specs)) throw new UsageError(`Unknown option "${shown}" for "${command}"`, command);
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      name = byShort.get(arg[1]!);
      shown = arg.slice(0, 2);
      if (name === undefined) throw new UsageError(`Unknown option "${shown}" for "${command}"`, command);
      // `-p3` and `-K:` style: the rest of the word is the value.
      if (arg.length > 2) inline = arg.slice(2);
    }
    if (name === undefined) {
      positionals.push(arg);
      continue;
    }
    const spec = specs[name]!;
    if (spec.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`Option "${shown}" takes no value`, command);
      set(name, spec, true, shown);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`Option "${shown}" needs a value`, command);
      value = argv[++i]!;
    }
    set(name, spec, value, shown);
  }
  return { values: values as ParsedValues<S>, positionals };
}

/** A whole number within bounds, or a usage error naming the option. */
export function integer(value: string, what: string, command: string, min = 0, max = 2 ** 31 - 1): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max >= 2 ** 31 - 1 ? `at least ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`Invalid ${what} "${value}": expected a whole number ${range}`, command);
  }
  return n;
}

/** `key=value` pairs into a record; `key` alone only where allowed (a null value). */
export function keyValues(
  items: readonly string[] | undefined,
  what: string,
  command: string,
  allowBare = false,
): Array<[string, string | null]> {
  return (items ?? []).map((item) => {
    const eq = item.indexOf('=');
    if (eq < 0) {
      if (allowBare && item.length > 0) return [item, null];
      throw new UsageError(`Invalid ${what} "${item}": expected key=value`, command);
    }
    if (eq === 0) throw new UsageError(`Invalid ${what} "${item}": the key is empty`, command);
    return [item.slice(0, eq), item.slice(eq + 1)];
  });
}

/** Exactly `count` positional arguments, named in the error when missing. */
export function positionals(parsed: { positionals: string[] }, names: readonly string[], command: string): string[] {
  const { positionals: given } = parsed;
  if (given.length < names.length) {
    throw new UsageError(`Missing ${names[given.length]} for "${command}"`, command);
  }
  if (given.length > names.length) {
    throw new UsageError(`Unexpected argument "${given[names.length]}" for "${command}"`, command);
  }
  return given;
}
