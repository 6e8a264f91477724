/**
 * Fetch over the raw protocol: long polling, byte limits, whole batches, errors, topic ids,
 * isolation levels, leader epochs and incremental fetch sessions (KIP-227).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DelayedFetchPurgatory } from '../../../src/broker/services/delayed-fetch.ts';
import { FetchSessionCache } from '../../../src/broker/services/fetch-sessions.ts';
import { FetchSessionIdNotFoundError } from '../../../src/broker/services/replica-errors.ts';
import { type StartedBroker, startBroker } from '../../../src/broker/start-broker.ts';
import { ErrorCode } from '../../../src/protocol/generated/error-codes.ts';
import { CompressionCodec, readBatchHeader } from '../../../src/protocol/records/index.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import { batchOf, createTopic, Fetch, fetchBody, fetchRaw, plainRecords, produceOk, sleep } from './helpers.ts';

const T = { timeout: 30_000 };

describe('Fetch', () => {
  let broker: StartedBroker;
  let client: RawClient;
  before(async () => {
    broker = await startBroker();
    client = await RawClient.connect(broker.port);
  });
  after(async () => {
    client.close();
    await broker.close();
  });

  test('a long poll returns as soon as data arrives, well before max_wait_ms', T, async () => {
    await createTopic(broker, 'poll-wakes');
    const started = performance.now();
    const fetching = fetchRaw(client, [{ topic: 'poll-wakes' }], { maxWaitMs: 10_000, minBytes: 1 });
    await sleep(200);
    const producer = await RawClient.connect(broker.port);
    await produceOk(producer, 'poll-wakes', 0, await batchOf([{ value: 'wake up' }]));
    producer.close();
    const response = await fetching;
    const elapsed = performance.now() - started;
    const data = response.responses[0]!.partitions[0]!;
    assert.deepEqual(
      (await plainRecords(data.records)).map((r) => r.value),
      ['wake up'],
    );
    assert.equal(data.highWatermark, 1n);
    assert.ok(elapsed >= 190 && elapsed < 3000, `answered after ${elapsed} ms`);
  });

  test('a long poll with no data answers empty after max_wait_ms', T, async () => {
    await createTopic(broker, 'poll-empty');
    const started = performance.now();
    const response = await fetchRaw(client, [{ topic: 'poll-empty' }], { maxWaitMs: 300, minBytes: 1 });
    const elapsed = performance.now() - started;
    const data = response.responses[0]!.partitions[0]!;
    assert.equal(data.errorCode, ErrorCode.NONE);
    assert.equal(data.records?.length, 0);
    assert.ok(elapsed >= 290 && elapsed < 2000, `answered after ${elapsed} ms`);
    assert.equal(broker.broker.services.replicas.waitingFetches, 0);
  });

  test('min_bytes above what arrives waits the whole max_wait_ms, then answers with what there is', T, async () => {
    await createTopic(broker, 'poll-min-bytes');
    const started = performance.now();
    const fetching = fetchRaw(client, [{ topic: 'poll-min-bytes' }], { maxWaitMs: 500, minBytes: 100_000 });
    const producer = await RawClient.connect(broker.port);
    await produceOk(producer, 'poll-min-bytes', 0, await batchOf([{ value: 'small' }]));
    producer.close();
    const response = await fetching;
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 450, `answered after ${elapsed} ms`);
    assert.deepEqual(
      (await plainRecords(response.responses[0]!.partitions[0]!.records)).map((r) => r.value),
      ['small'],
    );
  });

  test('max_wait_ms 0 answers at once', T, async () => {
    await createTopic(broker, 'no-wait');
    const started = performance.now();
    await fetchRaw(client, [{ topic: 'no-wait' }], { maxWaitMs: 0, minBytes: 1 });
    assert.ok(performance.now() - started < 500);
  });

  test('the whole batch holding the fetch offset is returned', T, async () => {
    await createTopic(broker, 'whole-batch');
    await produceOk(client, 'whole-batch', 0, await batchOf([{ value: 'a' }, { value: 'b' }, { value: 'c' }]));
    const response = await fetchRaw(client, [{ topic: 'whole-batch', fetchOffset: 1n }]);
    const records = response.responses[0]!.partitions[0]!.records!;
    assert.equal(readBatchHeader(records).baseOffset, 0n);
    assert.deepEqual(
      (await plainRecords(records)).map((r) => [r.offset, r.value]),
      [
        [0n, 'a'],
        [1n, 'b'],
        [2n, 'c'],
      ],
    );
  });

  test('byte limits: the first batch comes whole; later partitions only within what is left', T, async () => {
    await createTopic(broker, 'limits', { partitions: 2 });
    for (const partition of [0, 1]) {
      for (let i = 0; i < 3; i++) {
        await produceOk(
          client,
          'limits',
          partition,
          await batchOf([{ value: `${partition}-${i}-${'x'.repeat(1000)}` }]),
        );
      }
    }
    const both = [
      { topic: 'limits', partition: 0, partitionMaxBytes: 1 },
      { topic: 'limits', partition: 1, partitionMaxBytes: 1 },
    ];
    const tiny = await fetchRaw(client, both);
    const [p0, p1] = tiny.responses[0]!.partitions;
    assert.equal((await plainRecords(p0!.records)).length, 1, 'one whole batch despite partition_max_bytes 1');
    assert.equal(p1!.records?.length, 0);
    assert.equal(p1!.highWatermark, 3n);

    const budget = await fetchRaw(
      client,
      both.map((p) => ({ ...p, partitionMaxBytes: 1 << 20 })),
      { maxBytes: 2500 },
    );
    const [q0, q1] = budget.responses[0]!.partitions;
    assert.equal((await plainRecords(q0!.records)).length, 2);
    assert.equal(q1!.records?.length, 0);
  });

  test('an offset past the log end is OFFSET_OUT_OF_RANGE', T, async () => {
    await createTopic(broker, 'range');
    await produceOk(client, 'range', 0, await batchOf([{ value: 'a' }]));
    const response = await fetchRaw(client, [{ topic: 'range', fetchOffset: 5n }]);
    const data = response.responses[0]!.partitions[0]!;
    assert.deepEqual(
      [data.errorCode, data.highWatermark, data.logStartOffset],
      [ErrorCode.OFFSET_OUT_OF_RANGE, -1n, -1n],
    );
    // At the end exactly is fine: nothing yet.
    const atEnd = await fetchRaw(client, [{ topic: 'range', fetchOffset: 1n }]);
    assert.equal(atEnd.responses[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  });

  test('unknown topics and partitions are per-partition errors', T, async () => {
    await createTopic(broker, 'known');
    const response = await fetchRaw(client, [
      { topic: 'known', partition: 0 },
      { topic: 'known', partition: 4 },
      { topic: 'unknown', partition: 0 },
    ]);
    assert.deepEqual(
      response.responses.map((t) => [t.topic, t.partitions.map((p) => p.errorCode)]),
      [
        ['known', [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
        ['unknown', [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
      ],
    );
  });

  test('v13+ names topics by id; an unknown id is UNKNOWN_TOPIC_ID', T, async () => {
    const topicId = await createTopic(broker, 'by-id');
    await produceOk(client, 'by-id', 0, await batchOf([{ value: 'id' }]));
    const missing = 'AAAAAAAAAAAAAAAAAAAAAQ';
    for (const version of [13, 16]) {
      const response = await fetchRaw(
        client,
        [
          { topic: '', topicId, partition: 0 },
          { topic: '', topicId: missing, partition: 0 },
        ],
        { version },
      );
      assert.deepEqual(
        response.responses.map((t) => [t.topicId, t.partitions.map((p) => p.errorCode)]),
        [
          [topicId, [ErrorCode.NONE]],
          [missing, [ErrorCode.UNKNOWN_TOPIC_ID]],
        ],
      );
      assert.deepEqual(
        (await plainRecords(response.responses[0]!.partitions[0]!.records)).map((r) => r.value),
        ['id'],
      );
    }
  });

  test('every version from 4 to 16 reads the same records', T, async () => {
    const topicId = await createTopic(broker, 'all-versions');
    await produceOk(client, 'all-versions', 0, await batchOf([{ key: 'k', value: 'v' }]));
    for (let version = 4; version <= 16; version++) {
      const spec = version >= 13 ? { topic: '', topicId } : { topic: 'all-versions' };
      const { body } = await client.request(Fetch, version, fetchBody([spec]));
      const data = body.responses[0]!.partitions[0]!;
      assert.equal(data.errorCode, ErrorCode.NONE, `v${version}`);
      assert.equal(data.highWatermark, 1n);
      assert.equal(data.lastStableOffset, 1n);
      assert.equal(data.logStartOffset, version >= 5 ? 0n : -1n);
      assert.equal(data.preferredReadReplica, -1);
      assert.deepEqual(
        (await plainRecords(data.records)).map((r) => [r.key, r.value]),
        [['k', 'v']],
      );
    }
    // Fetch v3 and v17 are not served: the connection is closed.
    const other = await RawClient.connect(broker.port);
    other.write(other.frame(Fetch.request, 3, fetchBody([{ topic: 'all-versions' }])));
    await other.waitClosed();
  });

  test('isolation levels: read_committed gets an empty aborted list, read_uncommitted null', T, async () => {
    await createTopic(broker, 'isolation');
    await produceOk(client, 'isolation', 0, await batchOf([{ value: 'a' }]));
    const committed = await fetchRaw(client, [{ topic: 'isolation' }], { isolationLevel: 1 });
    const uncommitted = await fetchRaw(client, [{ topic: 'isolation' }], { isolationLevel: 0 });
    const c = committed.responses[0]!.partitions[0]!;
    const u = uncommitted.responses[0]!.partitions[0]!;
    assert.deepEqual([c.abortedTransactions, c.lastStableOffset, c.highWatermark], [[], 1n, 1n]);
    assert.deepEqual([u.abortedTransactions, u.lastStableOffset], [null, 1n]);
    assert.equal((await plainRecords(c.records)).length, 1);
  });

  test('current leader epoch: 0 is current, older is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH', T, async () => {
    await createTopic(broker, 'epochs');
    const codes = async (currentLeaderEpoch: number, lastFetchedEpoch = -1) =>
      (await fetchRaw(client, [{ topic: 'epochs', currentLeaderEpoch, lastFetchedEpoch }])).responses[0]!
        .partitions[0]!;
    assert.equal((await codes(0)).errorCode, ErrorCode.NONE);
    assert.equal((await codes(-1)).errorCode, ErrorCode.NONE);
    assert.equal((await codes(1)).errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH);
    const inEpoch = await codes(0, 0);
    assert.deepEqual([inEpoch.errorCode, inEpoch.divergingEpoch], [ErrorCode.NONE, { epoch: -1, endOffset: -1n }]);
  });

  test('zstd batches need Fetch v10: older versions get UNSUPPORTED_COMPRESSION_TYPE', T, async () => {
    await createTopic(broker, 'zstd-fetch');
    await produceOk(client, 'zstd-fetch', 0, await batchOf([{ value: 'z' }], { compression: CompressionCodec.Zstd }));
    const old = await fetchRaw(client, [{ topic: 'zstd-fetch' }], { version: 9 });
    assert.equal(old.responses[0]!.partitions[0]!.errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    const current = await fetchRaw(client, [{ topic: 'zstd-fetch' }], { version: 10 });
    assert.deepEqual(
      (await plainRecords(current.responses[0]!.partitions[0]!.records)).map((r) => r.value),
      ['z'],
    );
  });

  test('fetch sessions: a full fetch opens one, incremental fetches carry only what changed', T, async () => {
    await createTopic(broker, 'session', { partitions: 2 });
    const both = [
      { topic: 'session', partition: 0 },
      { topic: 'session', partition: 1 },
    ];
    const full = await fetchRaw(client, both, { sessionId: 0, sessionEpoch: 0 });
    assert.equal(full.errorCode, ErrorCode.NONE);
    const sessionId = full.sessionId;
    assert.notEqual(sessionId, 0);
    assert.equal(full.responses[0]!.partitions.length, 2);

    // Nothing changed: an empty answer.
    const quiet = await fetchRaw(client, [], { sessionId, sessionEpoch: 1 });
    assert.deepEqual([quiet.errorCode, quiet.sessionId, quiet.responses], [ErrorCode.NONE, sessionId, []]);

    await produceOk(client, 'session', 1, await batchOf([{ value: 'p1' }]));
    const changed = await fetchRaw(client, [], { sessionId, sessionEpoch: 2 });
    assert.deepEqual(
      changed.responses.map((t) => t.partitions.map((p) => p.partitionIndex)),
      [[1]],
    );
    assert.deepEqual(
      (await plainRecords(changed.responses[0]!.partitions[0]!.records)).map((r) => r.value),
      ['p1'],
    );

    // The client moves its offset for partition 1; nothing new after it.
    const moved = await fetchRaw(client, [{ topic: 'session', partition: 1, fetchOffset: 1n }], {
      sessionId,
      sessionEpoch: 3,
    });
    assert.deepEqual(moved.responses, []);

    // A long poll in a session wakes for any of the session's partitions.
    const polling = fetchRaw(client, [], { sessionId, sessionEpoch: 4, maxWaitMs: 10_000 });
    await sleep(100);
    const producer = await RawClient.connect(broker.port);
    await produceOk(producer, 'session', 0, await batchOf([{ value: 'p0' }]));
    const woke = await polling;
    assert.deepEqual(
      woke.responses.map((t) => t.partitions.map((p) => p.partitionIndex)),
      [[0]],
    );

    // Wrong epoch, unknown session.
    const stale = await fetchRaw(client, [], { sessionId, sessionEpoch: 2 });
    assert.deepEqual([stale.errorCode, stale.sessionId], [ErrorCode.INVALID_FETCH_SESSION_EPOCH, 0]);
    const unknown = await fetchRaw(client, [], { sessionId: sessionId + 1, sessionEpoch: 1 });
    assert.equal(unknown.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);

    // Forgetting partition 1: new data there is no longer reported.
    const forget = await fetchRaw(client, [{ topic: 'session', partition: 0, fetchOffset: 1n }], {
      sessionId,
      sessionEpoch: 5,
      forgotten: [{ topic: 'session', partitions: [1] }],
    });
    assert.equal(forget.errorCode, ErrorCode.NONE);
    await produceOk(producer, 'session', 1, await batchOf([{ value: 'unseen' }]));
    producer.close();
    const afterForget = await fetchRaw(client, [], { sessionId, sessionEpoch: 6 });
    assert.deepEqual(afterForget.responses, []);

    // Epoch -1 closes the session (a sessionless full fetch); it is gone afterwards.
    const closing = await fetchRaw(client, both, { sessionId, sessionEpoch: -1 });
    assert.deepEqual([closing.errorCode, closing.sessionId], [ErrorCode.NONE, 0]);
    assert.equal(closing.responses[0]!.partitions.length, 2);
    const gone = await fetchRaw(client, [], { sessionId, sessionEpoch: 7 });
    assert.equal(gone.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  });

  test('fetch sessions with topic ids (v13+) cannot be used without them', T, async () => {
    const topicId = await createTopic(broker, 'session-ids');
    const full = await fetchRaw(client, [{ topic: '', topicId }], { version: 13, sessionId: 0, sessionEpoch: 0 });
    assert.notEqual(full.sessionId, 0);
    const incremental = await fetchRaw(client, [], { version: 16, sessionId: full.sessionId, sessionEpoch: 1 });
    assert.equal(incremental.errorCode, ErrorCode.NONE);
    const mixed = await fetchRaw(client, [], { version: 12, sessionId: full.sessionId, sessionEpoch: 2 });
    assert.equal(mixed.errorCode, ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR);
  });

  test('sessionless fetches (session 0, epoch -1) and v4–v6 never open sessions', T, async () => {
    await createTopic(broker, 'sessionless');
    const before = broker.broker.services.fetchSessions.size;
    assert.equal((await fetchRaw(client, [{ topic: 'sessionless' }])).sessionId, 0);
    assert.equal((await fetchRaw(client, [{ topic: 'sessionless' }], { version: 6, sessionEpoch: 0 })).sessionId, 0);
    assert.equal(broker.broker.services.fetchSessions.size, before);
  });
});

describe('Fetch session cache and shutdown', () => {
  test('the session cache is bounded: when full, new sessions are refused (session id 0)', T, async (t) => {
    const broker = await startBroker({ config: { 'max.incremental.fetch.session.cache.slots': 2 } });
    t.after(() => broker.close());
    await createTopic(broker, 'bounded');
    const client = await RawClient.connect(broker.port);
    t.after(() => client.close());
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await fetchRaw(client, [{ topic: 'bounded' }], { sessionId: 0, sessionEpoch: 0 })).sessionId);
    }
    assert.ok(ids[0] !== 0 && ids[1] !== 0 && ids[0] !== ids[1]);
    assert.equal(ids[2], 0);
    assert.equal(broker.broker.services.fetchSessions.size, 2);
  });

  test('closing the broker answers waiting long polls at once', T, async () => {
    const broker = await startBroker();
    await createTopic(broker, 'closing');
    const client = await RawClient.connect(broker.port);
    const frame = client.frame(Fetch.request, 12, fetchBody([{ topic: 'closing' }], { maxWaitMs: 30_000 }));
    client.write(frame);
    await sleep(100);
    assert.equal(broker.broker.services.replicas.waitingFetches, 1);
    const started = performance.now();
    await broker.close();
    const closeMs = performance.now() - started;
    assert.ok(closeMs < 2000, `close took ${closeMs} ms`);
    const answer = await client.nextFrame();
    assert.ok(answer !== null, 'the waiting fetch was answered before the connection closed');
    client.close();
  });
});

describe('DelayedFetchPurgatory', () => {
  test('is bounded, wakes on enough bytes, and releases everything on shutdown', async () => {
    const purgatory = new DelayedFetchPurgatory(2);
    let woke = 0;
    const a = purgatory.wait(['t-0'], 0, 10, 60_000)!;
    const b = purgatory.wait(['t-0', 't-1'], 0, 1, 60_000)!;
    assert.equal(purgatory.wait(['t-2'], 0, 1, 60_000), null, 'a third waiter is refused');
    void a.then(() => woke++);
    void b.then(() => woke++);
    purgatory.onAppend('t-1', 5);
    await b;
    assert.equal(woke, 1);
    purgatory.onAppend('t-0', 5);
    await sleep(10);
    assert.equal(woke, 1, 'a needs 10 bytes');
    purgatory.shutdown();
    await a;
    assert.equal(purgatory.size, 0);
    assert.equal(purgatory.wait(['t-0'], 0, 1, 1000), null);
  });
});

describe('FetchSessionCache', () => {
  const partition = (p: number) => ({
    topic: 't',
    topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
    partition: p,
    fetchOffset: 0n,
    partitionMaxBytes: 1024,
    currentLeaderEpoch: -1,
    lastFetchedEpoch: -1,
    logStartOffset: -1n,
  });
  const result = (highWatermark: bigint) => ({
    error: null,
    highWatermark,
    lastStableOffset: highWatermark,
    logStartOffset: 0n,
    records: Buffer.alloc(0),
    divergingEpoch: null,
    abortedTransactions: null,
  });

  test('a full cache makes room only by evicting a session idle for the eviction time', () => {
    let now = 0;
    const cache = new FetchSessionCache({
      maxSessions: 1,
      evictionMs: 1000,
      clock: () => now,
      resolveTopicId: () => 't',
    });
    const open = () => {
      const context = cache.newContext({
        sessionId: 0,
        sessionEpoch: 0,
        usesTopicIds: false,
        partitions: [partition(0)],
        forgotten: [],
      });
      return context.respond([result(0n)]).sessionId;
    };
    const first = open();
    assert.notEqual(first, 0);
    now = 999;
    assert.equal(open(), 0, 'the only session is not idle long enough');
    now = 2000;
    const second = open();
    assert.notEqual(second, 0);
    assert.throws(
      () => cache.newContext({ sessionId: first, sessionEpoch: 1, usesTopicIds: false, partitions: [], forgotten: [] }),
      FetchSessionIdNotFoundError,
    );
  });

  test('an incremental fetch that forgets every partition closes the session', () => {
    const cache = new FetchSessionCache({ resolveTopicId: () => 't' });
    const id = cache
      .newContext({ sessionId: 0, sessionEpoch: 0, usesTopicIds: false, partitions: [partition(0)], forgotten: [] })
      .respond([result(0n)]).sessionId;
    const context = cache.newContext({
      sessionId: id,
      sessionEpoch: 1,
      usesTopicIds: false,
      partitions: [],
      forgotten: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', topic: 't', partitions: [0] }],
    });
    assert.deepEqual(context.respond([]), { sessionId: 0, partitions: [] });
    assert.equal(cache.size, 0);
  });

  test('answered partitions move to the end, so the byte budget rotates', () => {
    const cache = new FetchSessionCache({ resolveTopicId: () => 't' });
    const id = cache
      .newContext({
        sessionId: 0,
        sessionEpoch: 0,
        usesTopicIds: false,
        partitions: [partition(0), partition(1), partition(2)],
        forgotten: [],
      })
      .respond([result(0n), result(0n), result(0n)]).sessionId;
    const next = cache.newContext({
      sessionId: id,
      sessionEpoch: 1,
      usesTopicIds: false,
      partitions: [],
      forgotten: [],
    });
    assert.deepEqual(
      next.partitions.map((p) => p.partition),
      [0, 1, 2],
    );
    next.respond([result(0n), result(5n), result(0n)]);
    const after = cache.newContext({
      sessionId: id,
      sessionEpoch: 2,
      usesTopicIds: false,
      partitions: [],
      forgotten: [],
    });
    assert.deepEqual(
      after.partitions.map((p) => p.partition),
      [0, 2, 1],
    );
  });
});
