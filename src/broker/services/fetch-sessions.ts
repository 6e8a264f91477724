import { randomInt } from 'node:crypto';
import {
  FetchSessionIdNotFoundError,
  FetchSessionTopicIdError,
  InvalidFetchSessionEpochError,
} from './replica-errors.ts';
import type { FetchPartition, FetchPartitionResult } from './replica-manager.ts';

/**
 * Incremental fetch sessions (KIP-227). A consumer that fetches the same partitions over
 * and over opens a session with a full fetch (session id 0, epoch 0); the broker remembers
 * the partitions and what it last told the client about each. Later fetches (session id,
 * epoch 1, 2, …) name only what changed, and the response carries only the partitions with
 * something new: records, a moved high watermark or log start offset, or an error.
 *
 * Session id 0 with epoch -1 is a plain full fetch without a session; a known session id
 * with epoch -1 or 0 closes that session first. The cache is bounded: when it is full, a
 * new session may only take the place of the least recently used one if that one has been
 * idle for `evictionMs`; otherwise the client gets a sessionless answer (session id 0) and
 * simply keeps sending full fetches.
 */

export const INVALID_SESSION_ID = 0;
export const INITIAL_EPOCH = 0;
export const FINAL_EPOCH = -1;

/** Kafka's max.incremental.fetch.session.cache.slots default. */
export const DEFAULT_MAX_FETCH_SESSIONS = 1000;
/** Kafka evicts an idle session for a new one only after this long. */
export const DEFAULT_FETCH_SESSION_EVICTION_MS = 120_000;

export interface FetchSessionCacheOptions {
  maxSessions?: number;
  evictionMs?: number;
  clock?: () => number;
  /** Topic name for a topic id, for sessions that use ids (Fetch v13+); undefined when unknown. */
  resolveTopicId: (topicId: string) => string | undefined;
}

export interface FetchSessionRequest {
  sessionId: number;
  sessionEpoch: number;
  /** Fetch v13+ names topics by id; earlier versions by name. */
  usesTopicIds: boolean;
  /** The partitions the request names, in request order. */
  partitions: readonly FetchPartition[];
  /** Partitions to drop from an incremental session. */
  forgotten: ReadonlyArray<{ topicId: string; topic: string; partitions: readonly number[] }>;
}

export interface FetchResponsePartition {
  partition: FetchPartition;
  result: FetchPartitionResult;
}

/** What a fetch reads and how its results become a response, per KIP-227. */
export interface FetchContext {
  /** The partitions to read, in order: the request's, or the whole session's. */
  readonly partitions: readonly FetchPartition[];
  /** The session id and partitions to answer with, from the results (in `partitions` order). */
  respond(results: readonly FetchPartitionResult[]): { sessionId: number; partitions: FetchResponsePartition[] };
}

interface CachedPartition extends FetchPartition {
  /** The high watermark last sent to the client; -1 forces the partition into the next response. */
  sentHighWatermark: bigint;
  sentLogStartOffset: bigint;
}

interface FetchSession {
  readonly id: number;
  /** The epoch the next incremental request must carry. */
  epoch: number;
  readonly usesTopicIds: boolean;
  /** In response order: partitions that were answered move to the end, so all get a turn at the byte budget. */
  readonly partitions: Map<string, CachedPartition>;
  lastUsedMs: number;
}

export class FetchSessionCache {
  readonly #maxSessions: number;
  readonly #evictionMs: number;
  readonly #clock: () => number;
  readonly #resolveTopicId: (topicId: string) => string | undefined;
  /** Least recently used first. */
  readonly #sessions = new Map<number, FetchSession>();

  constructor(options: FetchSessionCacheOptions) {
    this.#maxSessions = options.maxSessions ?? DEFAULT_MAX_FETCH_SESSIONS;
    this.#evictionMs = options.evictionMs ?? DEFAULT_FETCH_SESSION_EVICTION_MS;
    this.#clock = options.clock ?? Date.now;
    this.#resolveTopicId = options.resolveTopicId;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /**
   * The context for one fetch request. Throws FetchSessionIdNotFoundError,
   * InvalidFetchSessionEpochError or FetchSessionTopicIdError for an incremental request
   * the cache cannot serve. Checks and epoch bumps happen here, synchronously, so two
   * requests racing on one session cannot both pass.
   */
  newContext(request: FetchSessionRequest): FetchContext {
    const { sessionId, sessionEpoch } = request;
    if (sessionEpoch === INITIAL_EPOCH || sessionEpoch === FINAL_EPOCH) {
      if (sessionId !== INVALID_SESSION_ID) this.#sessions.delete(sessionId);
      const partitions = request.partitions;
      const createSession = sessionEpoch === INITIAL_EPOCH;
      return {
        partitions,
        respond: (results) => {
          const answered = partitions.map((partition, i) => ({ partition, result: results[i]! }));
          const id = createSession ? this.#create(request.usesTopicIds, answered) : INVALID_SESSION_ID;
          return { sessionId: id, partitions: answered };
        },
      };
    }
    const session = this.#sessions.get(sessionId);
    if (session === undefined) {
      throw new FetchSessionIdNotFoundError(`Fetch session ${sessionId} does not exist (or was evicted)`);
    }
    if (session.epoch !== sessionEpoch) {
      throw new InvalidFetchSessionEpochError(
        `Fetch session ${sessionId} expects epoch ${session.epoch}, the request carries ${sessionEpoch}`,
      );
    }
    if (session.usesTopicIds !== request.usesTopicIds) {
      throw new FetchSessionTopicIdError(
        `Fetch session ${sessionId} was created ${session.usesTopicIds ? 'with' : 'without'} topic ids`,
      );
    }
    this.#update(session, request);
    if (session.partitions.size === 0) {
      this.#sessions.delete(session.id);
      return { partitions: [], respond: () => ({ sessionId: INVALID_SESSION_ID, partitions: [] }) };
    }
    this.#touch(session);
    session.epoch = nextEpoch(session.epoch);
    if (session.usesTopicIds) {
      for (const cached of session.partitions.values()) cached.topic = this.#resolveTopicId(cached.topicId) ?? null;
    }
    const cachedPartitions = [...session.partitions.values()];
    return {
      partitions: cachedPartitions,
      respond: (results) => {
        const answered: FetchResponsePartition[] = [];
        cachedPartitions.forEach((cached, i) => {
          const result = results[i]!;
          if (!mustRespond(cached, result)) return;
          answered.push({ partition: cached, result });
          const key = keyOf(cached, session.usesTopicIds);
          if (session.partitions.get(key) === cached) {
            session.partitions.delete(key);
            session.partitions.set(key, cached);
          }
        });
        return { sessionId: session.id, partitions: answered };
      },
    };
  }

  #update(session: FetchSession, request: FetchSessionRequest): void {
    for (const p of request.partitions) {
      const key = keyOf(p, session.usesTopicIds);
      const cached = session.partitions.get(key);
      if (cached === undefined) {
        session.partitions.set(key, { ...p, sentHighWatermark: -1n, sentLogStartOffset: -1n });
      } else {
        cached.topic = p.topic;
        cached.fetchOffset = p.fetchOffset;
        cached.partitionMaxBytes = p.partitionMaxBytes;
        cached.currentLeaderEpoch = p.currentLeaderEpoch;
        cached.lastFetchedEpoch = p.lastFetchedEpoch;
        cached.logStartOffset = p.logStartOffset;
      }
    }
    for (const forgotten of request.forgotten) {
      for (const partition of forgotten.partitions) {
        session.partitions.delete(keyOf({ ...forgotten, partition }, session.usesTopicIds));
      }
    }
  }

  /** Adds a session for a full fetch's answer, evicting an idle one if the cache is full; 0 when there is no room. */
  #create(usesTopicIds: boolean, answered: readonly FetchResponsePartition[]): number {
    const now = this.#clock();
    if (this.#sessions.size >= this.#maxSessions) {
      const oldest = this.#sessions.values().next().value as FetchSession | undefined;
      if (oldest === undefined || now - oldest.lastUsedMs < this.#evictionMs) return INVALID_SESSION_ID;
      this.#sessions.delete(oldest.id);
    }
    let id: number;
    do id = randomInt(1, 0x7fffffff);
    while (this.#sessions.has(id));
    const partitions = new Map<string, CachedPartition>();
    for (const { partition, result } of answered) {
      const cached: CachedPartition = { ...partition, sentHighWatermark: -1n, sentLogStartOffset: -1n };
      mustRespond(cached, result);
      partitions.set(keyOf(partition, usesTopicIds), cached);
    }
    this.#sessions.set(id, { id, epoch: nextEpoch(INITIAL_EPOCH), usesTopicIds, partitions, lastUsedMs: now });
    return id;
  }

  #touch(session: FetchSession): void {
    session.lastUsedMs = this.#clock();
    this.#sessions.delete(session.id);
    this.#sessions.set(session.id, session);
  }
}

/**
 * Whether an incremental response must carry this partition, and records what it tells
 * the client (Kafka's CachedPartition.maybeUpdateResponseData).
 */
function mustRespond(cached: CachedPartition, result: FetchPartitionResult): boolean {
  let must = result.records.length > 0 || result.divergingEpoch !== null;
  if (cached.sentHighWatermark !== result.highWatermark) {
    must = true;
    cached.sentHighWatermark = result.highWatermark;
  }
  if (cached.sentLogStartOffset !== result.logStartOffset) {
    must = true;
    cached.sentLogStartOffset = result.logStartOffset;
  }
  if (result.error !== null) {
    // Forget what was sent, so the partition is sent again once the error goes away.
    cached.sentHighWatermark = -1n;
    must = true;
  }
  return must;
}

function keyOf(p: { topicId: string; topic: string | null; partition: number }, usesTopicIds: boolean): string {
  return usesTopicIds ? `${p.topicId}:${p.partition}` : `${p.topic}:${p.partition}`;
}

function nextEpoch(epoch: number): number {
  if (epoch < 0) return FINAL_EPOCH;
  return epoch === 0x7fffffff ? 1 : epoch + 1;
}
