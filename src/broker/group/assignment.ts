/** A member's partitions: topic ID (Kafka's printed form) → partition numbers. */
export type Assignment = Map<string, Set<number>>;

export function emptyAssignment(): Assignment {
  return new Map();
}

export function cloneAssignment(a: Assignment): Assignment {
  return new Map([...a].map(([t, ps]) => [t, new Set(ps)]));
}

export function assignmentSize(a: Assignment): number {
  let n = 0;
  for (const ps of a.values()) n += ps.size;
  return n;
}

export function assignmentsEqual(a: Assignment, b: Assignment): boolean {
  if (assignmentSize(a) !== assignmentSize(b)) return false;
  for (const [t, ps] of a) {
    const other = b.get(t);
    if (ps.size === 0) continue;
    if (other === undefined) return false;
    for (const p of ps) if (!other.has(p)) return false;
  }
  return true;
}

export function addPartition(a: Assignment, topicId: string, partition: number): void {
  let ps = a.get(topicId);
  if (ps === undefined) {
    ps = new Set();
    a.set(topicId, ps);
  }
  ps.add(partition);
}

export function hasPartition(a: Assignment, topicId: string, partition: number): boolean {
  return a.get(topicId)?.has(partition) ?? false;
}

/** The wire form: one entry per topic, partitions ascending, empty topics left out. */
export function assignmentToWire(a: Assignment): { topicId: string; partitions: number[] }[] {
  return [...a]
    .filter(([, ps]) => ps.size > 0)
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([topicId, ps]) => ({ topicId, partitions: [...ps].sort((x, y) => x - y) }));
}

export function assignmentFromWire(list: readonly { topicId: string; partitions: readonly number[] }[]): Assignment {
  const a: Assignment = new Map();
  for (const { topicId, partitions } of list) for (const p of partitions) addPartition(a, topicId, p);
  return a;
}
