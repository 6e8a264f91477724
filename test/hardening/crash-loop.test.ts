/**
 * Crash loop against a model: `tributary start` runs as a child process under mixed load —
 * producers with acks=all, a consumer reading from its committed position and committing
 * what it read — and is killed with SIGKILL at random moments, at least 50 times. After
 * each restart the log and the committed offset are checked against what the clients were
 * told: no acknowledged record lost, none stored twice (nothing is retried, so a record
 * that was never acknowledged is there at most once), every record keeps the offset it was
 * first seen at, and the committed offset is never beyond the log end nor behind the last
 * acknowledged commit.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/generated/messages/metadata.ts';
import { OffsetCommitRequest, OffsetCommitResponse } from '../../src/protocol/generated/messages/offset-commit.ts';
import { OffsetFetchRequest, OffsetFetchResponse } from '../../src/protocol/generated/messages/offset-fetch.ts';
import { batchOf, fetchRaw, plainRecords, produceRaw, readPartition, sleep } from '../broker/data-path/helpers.ts';
import { type BrokerProcess, spawnBroker } from '../helpers/broker-process.ts';
import { prng } from '../helpers/random-message.ts';
import { RawClient } from '../helpers/raw-client.ts';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 50);
const TOPIC = 'crash-loop';
const GROUP = 'crash-loop-group';
const Metadata = { request: MetadataRequest, response: MetadataResponse };
const OffsetCommit = { request: OffsetCommitRequest, response: OffsetCommitResponse };
const OffsetFetch = { request: OffsetFetchRequest, response: OffsetFetchResponse };

async function committedOffset(client: RawClient): Promise<bigint> {
  const { body } = await client.request(OffsetFetch, 7, {
    groupId: GROUP,
    topics: [{ name: TOPIC, partitionIndexes: [0] }],
    groups: [],
    requireStable: false,
  });
  const p = body.topics[0]?.partitions[0];
  assert.equal(p?.errorCode, 0);
  return p!.committedOffset;
}

async function commit(client: RawClient, offset: bigint): Promise<boolean> {
  const { body } = await client.request(OffsetCommit, 7, {
    groupId: GROUP,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [
      {
        name: TOPIC,
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: offset,
            committedLeaderEpoch: -1,
            commitTimestamp: -1n,
            committedMetadata: '',
          },
        ],
      },
    ],
  });
  return body.topics[0]?.partitions[0]?.errorCode === 0;
}

test(`kill -9 at ${ROUNDS} random moments of mixed produce, consume and commit load keeps the model`, {
  timeout: 600_000,
}, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-crash-loop-'));
  let broker: BrokerProcess | null = null;
  t.after(async () => {
    await broker?.kill9();
    await rm(dataDir, { recursive: true, force: true });
  });
  const rand = prng(20261122);
  const acked = new Set<string>();
  const sent = new Set<string>();
  /** Offset at which each record was first seen: it must never move. */
  const offsetOf = new Map<string, bigint>();
  let lastAckedCommit = -1n;
  let kills = 0;

  for (let round = 0; round < ROUNDS; round++) {
    broker = await spawnBroker(['--port', '0', '--data-dir', dataDir]);
    const client = await RawClient.connect(broker.port);

    if (round === 0) {
      const { body } = await client.request(Metadata, 9, {
        topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: TOPIC }],
        allowAutoTopicCreation: true,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      assert.equal(body.topics[0]?.errorCode, 0);
    } else {
      // Check the model against what survived.
      const stored = await readPartition(client, TOPIC);
      const seen = new Set<string>();
      for (const r of stored) {
        const id = r.value!;
        assert.ok(sent.has(id), `round ${round}: unknown record ${id}`);
        assert.ok(!seen.has(id), `round ${round}: ${id} stored twice`);
        seen.add(id);
        const first = offsetOf.get(id);
        if (first === undefined) offsetOf.set(id, r.offset);
        else assert.equal(r.offset, first, `round ${round}: ${id} moved from offset ${first} to ${r.offset}`);
      }
      for (const id of acked) assert.ok(seen.has(id), `round ${round}: acknowledged ${id} lost`);
      const logEnd = stored.length === 0 ? 0n : stored[stored.length - 1]!.offset + 1n;
      const committed = await committedOffset(client);
      assert.ok(committed <= logEnd, `round ${round}: committed ${committed} beyond log end ${logEnd}`);
      assert.ok(
        committed >= lastAckedCommit,
        `round ${round}: committed ${committed} behind acknowledged ${lastAckedCommit}`,
      );
    }

    // Load: two pipelined producers and a consumer that commits what it read.
    let stop = false;
    const producer = async (name: string) => {
      const conn = await RawClient.connect(broker!.port);
      for (let i = 0; !stop; i++) {
        const ids = Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, j) => `${round}-${name}-${i}-${j}`);
        for (const id of ids) sent.add(id);
        try {
          const response = await produceRaw(
            conn,
            TOPIC,
            0,
            await batchOf(ids.map((id) => ({ value: Buffer.from(id) }))),
          );
          if (response.errorCode === 0) for (const id of ids) acked.add(id);
        } catch {
          return; // the broker died under the request
        }
      }
      conn.close();
    };
    const consumer = async () => {
      const conn = await RawClient.connect(broker!.port);
      try {
        let position = round === 0 ? 0n : await committedOffset(conn);
        if (position < 0n) position = 0n;
        while (!stop) {
          const response = await fetchRaw(conn, [{ topic: TOPIC, partition: 0, fetchOffset: position }], {
            maxWaitMs: 20,
          });
          const records = await plainRecords(response.responses[0]?.partitions[0]?.records ?? null);
          const next = records.filter((r) => r.offset >= position).at(-1);
          if (next === undefined) continue;
          position = next.offset + 1n;
          if (await commit(conn, position)) lastAckedCommit = position > lastAckedCommit ? position : lastAckedCommit;
        }
      } catch {
        // the broker died under the request
      }
      conn.close();
    };
    const load = [producer('a'), producer('b'), consumer()];
    await sleep(50 + Math.floor(rand() * 400));
    await broker.kill9();
    kills++;
    stop = true;
    client.close();
    await Promise.all(load);
  }
  assert.equal(kills, ROUNDS);
  assert.ok(acked.size > ROUNDS, `only ${acked.size} records were acknowledged over ${ROUNDS} rounds`);
});
