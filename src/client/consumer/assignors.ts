import { type TopicPartition, tpKey } from '../metadata.ts';
import type { Subscription } from './consumer-protocol.ts';

export interface GroupMember {
  memberId: string;
  groupInstanceId: string | null;
  subscription: Subscription;
}

export type RebalanceProtocol = 'eager' | 'cooperative';

/**
 * A classic-protocol partition assignor, run by the group leader. Names and results match
 * the Java client's assignors of the same name, so mixed groups agree on them.
 */
export interface Assignor {
  readonly name: string;
  /** cooperative: only moved partitions are revoked, in a second rebalance (KIP-429). */
  readonly protocols: readonly RebalanceProtocol[];
  /** Data this member puts in its subscription for this assignor. */
  userData?(generationId: number): Buffer | null;
  /** Partitions per member id; every member appears, with [] if it gets nothing. */
  assign(
    members: readonly GroupMember[],
    partitionsPerTopic: ReadonlyMap<string, number>,
  ): Map<string, TopicPartition[]>;
}

/** The Java client's member order: static members by instance id first, then by member id. */
export function compareMembers(a: GroupMember, b: GroupMember): number {
  if (a.groupInstanceId !== null && b.groupInstanceId !== null)
    return compareStrings(a.groupInstanceId, b.groupInstanceId);
  if (a.groupInstanceId !== null) return -1;
  if (b.groupInstanceId !== null) return 1;
  return compareStrings(a.memberId, b.memberId);
}

/** Java's String.compareTo: UTF-16 code units, which is how JavaScript compares strings too. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function emptyAssignment(members: readonly GroupMember[]): Map<string, TopicPartition[]> {
  return new Map(members.map((m) => [m.memberId, [] as TopicPartition[]]));
}

/** RangeAssignor: per topic, consecutive ranges of partitions to the sorted subscribers, the first ones one more. */
export const rangeAssignor: Assignor = {
  name: 'range',
  protocols: ['eager'],
  assign(members, partitionsPerTopic) {
    const out = emptyAssignment(members);
    const topics = [...new Set(members.flatMap((m) => m.subscription.topics))].sort(compareStrings);
    for (const topic of topics) {
      const count = partitionsPerTopic.get(topic);
      if (count === undefined) continue;
      const consumers = members.filter((m) => m.subscription.topics.includes(topic)).sort(compareMembers);
      const perConsumer = Math.floor(count / consumers.length);
      const withExtra = count % consumers.length;
      consumers.forEach((m, i) => {
        const start = perConsumer * i + Math.min(i, withExtra);
        const length = perConsumer + (i + 1 > withExtra ? 0 : 1);
        const list = out.get(m.memberId)!;
        for (let p = start; p < start + length; p++) list.push({ topic, partition: p });
      });
    }
    return out;
  },
};

/** RoundRobinAssignor: all partitions sorted by topic and index, dealt to the sorted members in turn. */
export const roundRobinAssignor: Assignor = {
  name: 'roundrobin',
  protocols: ['eager'],
  assign(members, partitionsPerTopic) {
    const out = emptyAssignment(members);
    const sorted = [...members].sort(compareMembers);
    if (sorted.length === 0) return out;
    const topics = [...new Set(members.flatMap((m) => m.subscription.topics))].sort(compareStrings);
    let next = 0;
    for (const topic of topics) {
      const count = partitionsPerTopic.get(topic);
      if (count === undefined) continue;
      for (let partition = 0; partition < count; partition++) {
        while (!sorted[next % sorted.length]!.subscription.topics.includes(topic)) next++;
        out.get(sorted[next % sorted.length]!.memberId)!.push({ topic, partition });
        next++;
      }
    }
    return out;
  },
};

/**
 * CooperativeStickyAssignor: keeps partitions where they are, moves as few as balance needs
 * (member counts differ by at most one among members that could take a partition), and
 * leaves a partition that changes owner unassigned for this round: its old owner revokes it,
 * rejoins, and the next rebalance hands it over (KIP-429).
 */
export const cooperativeStickyAssignor: Assignor = {
  name: 'cooperative-sticky',
  protocols: ['cooperative', 'eager'],
  userData(generationId) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(generationId, 0);
    return b;
  },
  assign(members, partitionsPerTopic) {
    const sorted = [...members].sort(compareMembers);
    const subscribed = new Map(sorted.map((m) => [m.memberId, new Set(m.subscription.topics)]));
    const exists = (tp: TopicPartition) => tp.partition < (partitionsPerTopic.get(tp.topic) ?? 0);
    // Current owners: a partition claimed twice goes to the claim of the highest generation.
    const owner = new Map<string, { memberId: string; generation: number }>();
    for (const m of sorted) {
      const generation = m.subscription.generationId ?? -1;
      for (const tp of m.subscription.ownedPartitions) {
        if (!exists(tp) || !subscribed.get(m.memberId)!.has(tp.topic)) continue;
        const key = tpKey(tp.topic, tp.partition);
        const previous = owner.get(key);
        if (previous === undefined || generation > previous.generation)
          owner.set(key, { memberId: m.memberId, generation });
      }
    }
    const assignment = new Map<string, TopicPartition[]>(sorted.map((m) => [m.memberId, []]));
    const all: TopicPartition[] = [];
    for (const topic of [...new Set(sorted.flatMap((m) => m.subscription.topics))].sort(compareStrings)) {
      for (let partition = 0; partition < (partitionsPerTopic.get(topic) ?? 0); partition++)
        all.push({ topic, partition });
    }
    const unassigned: TopicPartition[] = [];
    for (const tp of all) {
      const o = owner.get(tpKey(tp.topic, tp.partition));
      if (o) assignment.get(o.memberId)!.push(tp);
      else unassigned.push(tp);
    }
    const eligible = (tp: TopicPartition) => sorted.filter((m) => subscribed.get(m.memberId)!.has(tp.topic));
    const fewest = (candidates: GroupMember[]) =>
      candidates.reduce((best, m) =>
        assignment.get(m.memberId)!.length < assignment.get(best.memberId)!.length ? m : best,
      );
    // Members above their fair share give back their last partitions first.
    const total = all.length;
    const fair = Math.ceil(total / Math.max(sorted.length, 1));
    for (const m of sorted) {
      const list = assignment.get(m.memberId)!;
      while (list.length > fair) unassigned.push(list.pop()!);
    }
    for (const tp of unassigned) {
      const candidates = eligible(tp);
      if (candidates.length > 0) assignment.get(fewest(candidates).memberId)!.push(tp);
    }
    // Then move single partitions from the fullest to the emptiest until counts are within one.
    for (let moved = true; moved; ) {
      moved = false;
      for (const m of sorted) {
        const list = assignment.get(m.memberId)!;
        for (let i = list.length - 1; i >= 0; i--) {
          const tp = list[i]!;
          const target = fewest(eligible(tp));
          if (assignment.get(target.memberId)!.length < list.length - 1) {
            list.splice(i, 1);
            assignment.get(target.memberId)!.push(tp);
            moved = true;
            break;
          }
        }
      }
    }
    // Cooperative: a partition still owned by another member waits for the next round.
    for (const [memberId, list] of assignment) {
      const kept = list.filter((tp) => {
        const o = owner.get(tpKey(tp.topic, tp.partition));
        return o === undefined || o.memberId === memberId;
      });
      assignment.set(
        memberId,
        kept.sort((a, b) => compareStrings(a.topic, b.topic) || a.partition - b.partition),
      );
    }
    return assignment;
  },
};

export const ASSIGNORS: Readonly<Record<string, Assignor>> = {
  range: rangeAssignor,
  roundrobin: roundRobinAssignor,
  'cooperative-sticky': cooperativeStickyAssignor,
};

/** The protocol of a set of assignors: cooperative only when all of them support it (as in Java). */
export function rebalanceProtocol(assignors: readonly Assignor[]): RebalanceProtocol {
  return assignors.every((a) => a.protocols.includes('cooperative')) ? 'cooperative' : 'eager';
}
