import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const USAGE = `Usage: tributary [global options] <command> [options]

Commands:
  start       start a single-node broker (see tributary start --help)
  topic       create, list, describe, delete and configure topics
  produce     write lines from stdin or a file to a topic
  consume     print records of topics, alone or in a consumer group
  group       list and describe consumer groups, see their lag, reset their offsets
  cluster     cluster id, controller and brokers
  version     print the version
  help        print this help

Global options (before or after the command):
  -b, --brokers <host:port,…>  brokers to bootstrap from (env TRIBUTARY_BROKERS; default 127.0.0.1:9092)
      --json                   machine-readable output on stdout (errors as JSON on stderr)
      --timeout <ms>           how long to wait on the cluster (default 15000)

Run "tributary <command> --help" for a command's options.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Global options given before the command (`tributary -b host:9092 topic list`) move behind
 * it, where every command parses them.
 */
function splitGlobals(argv: readonly string[]): { command: string | undefined; args: string[]; rest: string[] } {
  const globals: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') globals.push(arg);
    else if (/^(--brokers|--timeout)=/.test(arg) || /^-b.+/.test(arg)) globals.push(arg);
    else if ((arg === '--brokers' || arg === '-b' || arg === '--timeout') && i + 1 < argv.length) {
      globals.push(arg, argv[++i]!);
    } else break;
  }
  return { command: argv[i], args: argv.slice(i + 1), rest: [...argv.slice(i + 1), ...globals] };
}

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const { command, args, rest } = splitGlobals(argv);
  // Commands load on demand, so that one command does not pay for loading the others.
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      if (command === 'help' && rest[0] !== undefined && !rest[0].startsWith('-')) {
        return main([rest[0], '--help']);
      }
      process.stdout.write(USAGE);
      return 0;
    case 'start':
      return (await import('./commands/start.ts')).start(args);
    case 'topic':
      return (await import('./commands/topic.ts')).topic(rest);
    case 'produce':
      return (await import('./commands/produce.ts')).produce(rest);
    case 'consume':
      return (await import('./commands/consume.ts')).consume(rest);
    case 'group':
      return (await import('./commands/group.ts')).group(rest);
    case 'cluster':
      return (await import('./commands/cluster.ts')).cluster(rest);
    case 'version':
    case '--version':
      process.stdout.write(`${version()}\n`);
      return 0;
    default:
      process.stderr.write(`Unknown command "${command}" (see "tributary --help")\n`);
      return 2;
  }
}

// Run directly (`node --import tsx src/cli/main.ts …`, as the tests do) rather than through bin/.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
