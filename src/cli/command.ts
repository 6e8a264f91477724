import { GLOBAL_OPTIONS, type OptionSpecs, type Parsed, parse, UsageError } from './args.ts';
import { Context, GLOBAL_HELP, report } from './context.ts';

export interface CommandSpec<S extends OptionSpecs> {
  /** As typed: `topic create`. */
  name: string;
  usage: string;
  options: S;
  run(parsed: Parsed<S & typeof GLOBAL_OPTIONS>, ctx: Context): Promise<number | undefined>;
}

/**
 * Parses a command's arguments with the global ones, prints its help on --help, runs it
 * and turns failures into an exit code: 2 for bad usage, 1 for everything else.
 */
export async function runCommand<S extends OptionSpecs>(
  argv: readonly string[],
  spec: CommandSpec<S>,
): Promise<number> {
  const json = argv.includes('--json');
  try {
    const parsed = parse(argv, { ...GLOBAL_OPTIONS, ...spec.options }, spec.name);
    if (parsed.values.help) {
      process.stdout.write(`${spec.usage}\n${GLOBAL_HELP}`);
      return 0;
    }
    const ctx = new Context(parsed.values, spec.name);
    return (await spec.run(parsed, ctx)) ?? 0;
  } catch (err) {
    return report(err, json);
  }
}

/** A group of subcommands (`topic create|list|…`): picks one, or prints the group's help. */
export async function runGroup(
  argv: readonly string[],
  group: string,
  usage: string,
  commands: Readonly<Record<string, (argv: readonly string[]) => Promise<number>>>,
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    (sub === undefined ? process.stderr : process.stdout).write(`${usage}\n${GLOBAL_HELP}`);
    return sub === undefined ? 2 : 0;
  }
  const command = commands[sub];
  if (command === undefined || !Object.hasOwn(commands, sub)) {
    return report(new UsageError(`Unknown command "${group} ${sub}"`, group), argv.includes('--json'));
  }
  return command(rest);
}
