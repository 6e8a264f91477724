import { positionals } from '../args.ts';
import { runCommand, runGroup } from '../command.ts';
import { attempt } from '../context.ts';
import { fields, table } from '../output.ts';

export const CLUSTER_USAGE = `Usage: tributary cluster <command> [options]

Commands:
  info   cluster id, controller, brokers and topic count
`;

const INFO_USAGE = `Usage: tributary cluster info

Shows the cluster id, the controller, the brokers and how many topics there are.
`;

export function cluster(argv: readonly string[]): Promise<number> {
  return runGroup(argv, 'cluster', CLUSTER_USAGE, { info });
}

function info(argv: readonly string[]): Promise<number> {
  return runCommand(argv, {
    name: 'cluster info',
    usage: INFO_USAGE,
    options: {},
    async run(parsed, ctx) {
      positionals(parsed, [], this.name);
      const { description, topics, internal } = await attempt('Cannot describe the cluster', () =>
        ctx.withAdmin(async (admin) => {
          const [description, all, external] = await Promise.all([
            admin.describeCluster(),
            admin.listTopics({ includeInternal: true }),
            admin.listTopics(),
          ]);
          return { description, topics: external.length, internal: all.length - external.length };
        }),
      );
      if (ctx.json) {
        ctx.printJson({ ...description, topics, internalTopics: internal });
        return 0;
      }
      ctx.out(
        fields([
          ['Cluster ID', description.clusterId],
          ['Controller', description.controllerId < 0 ? 'none' : description.controllerId],
          ['Brokers', description.brokers.length],
          ['Topics', internal > 0 ? `${topics} (+${internal} internal)` : topics],
        ]),
      );
      ctx.out('\n');
      ctx.out(
        table(
          ['id', 'host', 'port', 'rack', 'controller'],
          description.brokers.map((b) => [
            b.nodeId,
            b.host,
            b.port,
            b.rack,
            b.nodeId === description.controllerId ? 'yes' : '',
          ]),
        ),
      );
      return 0;
    },
  });
}
