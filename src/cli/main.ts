import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const USAGE = `Usage: tributary <command> [options]

Commands:
  start       start a single-node broker (see tributary start --help)
  version     print the version
  help        print this help

More commands (topic, produce, consume, group, cluster) are coming.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    case 'start':
      // Commands load on demand, so that one command does not pay for loading the others.
      return (await import('./commands/start.ts')).start(argv.slice(1));
    case 'version':
    case '--version':
      process.stdout.write(`${version()}\n`);
      return 0;
    default:
      process.stderr.write(`Unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

// Run directly (`node --import tsx src/cli/main.ts …`, as the tests do) rather than through bin/.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
