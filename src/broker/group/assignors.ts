/**
 * The server-side assignors of KIP-848 consumer groups: "uniform" (balanced and sticky:
 * members keep what they had as far as balance allows) and "range" (each topic's
 * partitions in contiguous ranges over the members subscribed to it, ordered by member
 * id, so members subscribed to co-partitioned topics get matching partitions).
 */
import { type Assignment, addPartition, hasPartition } from './assignment.ts';
import type { ServerAssignorName } from './config.ts';

export interface AssignorMember {
  memberId: string;
  /** Topic IDs the member subscribes to (only topics that exist). */
  subscribedTopicIds: ReadonlySet<string>;
  /** The member's previous target assignment, for stickiness. */
  current: Assignment;
}

/** topic ID → partition count */
export type AssignorTopics = ReadonlyMap<string, number>;

export function assign(
  name: ServerAssignorName,
  members: readonly AssignorMember[],
  topics: AssignorTopics,
): Map<string, Assignment> {
  return name === 'range' ? rangeAssign(members, topics) : uniformAssign(members, topics);
}

function byId(a: { memberId: string }, b: { memberId: string }): number {
  return a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0;
}

function sortedTopicIds(topics: AssignorTopics): string[] {
  return [...topics.keys()].sort();
}

export function rangeAssign(members: readonly AssignorMember[], topics: AssignorTopics): Map<string, Assignment> {
  const out = new Map<string, Assignment>(members.map((m) => [m.memberId, new Map()]));
  for (const topicId of sortedTopicIds(topics)) {
    const n = topics.get(topicId)!;
    const subscribers = members.filter((m) => m.subscribedTopicIds.has(topicId)).sort(byId);
    if (subscribers.length === 0) continue;
    const per = Math.floor(n / subscribers.length);
    const extra = n % subscribers.length;
    let start = 0;
    subscribers.forEach((m, i) => {
      const count = per + (i < extra ? 1 : 0);
      for (let p = start; p < start + count; p++) addPartition(out.get(m.memberId)!, topicId, p);
      start += count;
    });
  }
  return out;
}

export function uniformAssign(members: readonly AssignorMember[], topics: AssignorTopics): Map<string, Assignment> {
  const sorted = [...members].sort(byId);
  const out = new Map<string, Assignment>(sorted.map((m) => [m.memberId, new Map()]));
  const count = new Map<string, number>(sorted.map((m) => [m.memberId, 0]));
  const owned = new Set<string>();
  const key = (t: string, p: number) => `${t}:${p}`;

  // 1. Keep what each member had, where it still subscribes and the partition still exists.
  for (const m of sorted) {
    for (const [topicId, ps] of m.current) {
      const n = topics.get(topicId);
      if (n === undefined || !m.subscribedTopicIds.has(topicId)) continue;
      for (const p of [...ps].sort((a, b) => a - b)) {
        if (p >= n || owned.has(key(topicId, p))) continue;
        owned.add(key(topicId, p));
        addPartition(out.get(m.memberId)!, topicId, p);
        count.set(m.memberId, count.get(m.memberId)! + 1);
      }
    }
  }

  const leastLoaded = (eligible: readonly AssignorMember[]): AssignorMember | undefined => {
    let best: AssignorMember | undefined;
    for (const m of eligible) if (best === undefined || count.get(m.memberId)! < count.get(best.memberId)!) best = m;
    return best;
  };
  const eligibleFor = new Map<string, AssignorMember[]>();
  for (const topicId of topics.keys()) {
    eligibleFor.set(
      topicId,
      sorted.filter((m) => m.subscribedTopicIds.has(topicId)),
    );
  }

  // 2. Hand out the rest, each to the least loaded member that subscribes to its topic.
  for (const topicId of sortedTopicIds(topics)) {
    const eligible = eligibleFor.get(topicId)!;
    if (eligible.length === 0) continue;
    for (let p = 0; p < topics.get(topicId)!; p++) {
      if (owned.has(key(topicId, p))) continue;
      const m = leastLoaded(eligible)!;
      owned.add(key(topicId, p));
      addPartition(out.get(m.memberId)!, topicId, p);
      count.set(m.memberId, count.get(m.memberId)! + 1);
    }
  }

  // 3. Balance: move partitions from a member to an eligible one holding at least two
  // fewer, until no such move exists. Each move lowers the sum of squared counts, so this ends.
  for (let moved = true; moved; ) {
    moved = false;
    const donors = [...sorted].sort((a, b) => count.get(b.memberId)! - count.get(a.memberId)! || byId(a, b));
    for (const donor of donors) {
      const mine = out.get(donor.memberId)!;
      for (const topicId of sortedTopicIds(topics).reverse()) {
        const ps = mine.get(topicId);
        if (ps === undefined) continue;
        for (const p of [...ps].sort((a, b) => b - a)) {
          const receiver = leastLoaded(eligibleFor.get(topicId)!);
          if (receiver === undefined || count.get(receiver.memberId)! > count.get(donor.memberId)! - 2) continue;
          ps.delete(p);
          if (ps.size === 0) mine.delete(topicId);
          addPartition(out.get(receiver.memberId)!, topicId, p);
          count.set(donor.memberId, count.get(donor.memberId)! - 1);
          count.set(receiver.memberId, count.get(receiver.memberId)! + 1);
          moved = true;
        }
      }
    }
  }
  return out;
}

/** For tests and checks: every partition of the subscribed topics is assigned exactly once. */
export function isCompleteAssignment(
  result: ReadonlyMap<string, Assignment>,
  members: readonly AssignorMember[],
  topics: AssignorTopics,
): boolean {
  for (const [topicId, n] of topics) {
    const subscribed = members.some((m) => m.subscribedTopicIds.has(topicId));
    for (let p = 0; p < n; p++) {
      const owners = [...result.values()].filter((a) => hasPartition(a, topicId, p)).length;
      if (owners !== (subscribed ? 1 : 0)) return false;
    }
  }
  return true;
}
