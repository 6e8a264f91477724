import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { nodeFs, type StorageFs, writeFileAtomic } from '../storage/fs.ts';

export interface MetaProperties {
  clusterId: string;
  nodeId: number;
}

const FILE = 'meta.properties';

/**
 * The data directory's identity, as Kafka keeps it in meta.properties: the cluster id is
 * made once, on the first start, and a directory written by another node id is refused.
 */
export async function loadOrCreateMetaProperties(
  dataDir: string,
  nodeId: number,
  fsys: StorageFs = nodeFs,
): Promise<MetaProperties> {
  const path = join(dataDir, FILE);
  const bytes = await fsys.readFile(path);
  if (bytes !== null) {
    const values = new Map<string, string>();
    for (const line of bytes.toString('utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0 && !line.startsWith('#')) values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
    }
    const clusterId = values.get('cluster.id');
    const storedNode = Number(values.get('node.id'));
    if (!clusterId) throw new Error(`Cannot start: "${path}" has no cluster.id`);
    if (storedNode !== nodeId) {
      throw new Error(`Cannot start as node ${nodeId}: data directory "${dataDir}" belongs to node ${storedNode}`);
    }
    return { clusterId, nodeId };
  }
  const meta = { clusterId: randomBytes(16).toString('base64url'), nodeId };
  await fsys.mkdir(dataDir);
  await writeFileAtomic(fsys, path, Buffer.from(`version=1\ncluster.id=${meta.clusterId}\nnode.id=${nodeId}\n`));
  return meta;
}
