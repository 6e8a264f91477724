import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultFetchRequestFetchTopic, FetchRequest } from '../../src/protocol/generated/messages/fetch.ts';
import { defaultProduceResponse, ProduceResponse } from '../../src/protocol/generated/messages/produce.ts';

test('a tagged struct field equal to its default is not written, as Kafka does', () => {
  const response = defaultProduceResponse();
  response.responses = [
    {
      name: 't',
      partitionResponses: [
        {
          index: 0,
          errorCode: 0,
          baseOffset: 5n,
          logAppendTimeMs: -1n,
          logStartOffset: 0n,
          recordErrors: [],
          errorMessage: null,
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
        },
      ],
    },
  ];
  const bytes = ProduceResponse.encode(response, 10);
  // …partition: index, error, base offset, append time, start offset, record errors (empty), null
  // message, then an empty tag section (00) rather than a currentLeader tag.
  const partition =
    '00000000' + '0000' + '0000000000000005' + 'ffffffffffffffff' + '0000000000000000' + '01' + '00' + '00';
  assert.ok(bytes.toString('hex').includes(partition), bytes.toString('hex'));

  response.responses[0]!.partitionResponses[0]!.currentLeader = { leaderId: 2, leaderEpoch: 7 };
  const withLeader = ProduceResponse.decode(ProduceResponse.encode(response, 10), 10);
  assert.deepEqual(withLeader.responses[0]!.partitionResponses[0]!.currentLeader, { leaderId: 2, leaderEpoch: 7 });
});

test('a consumer Fetch v15 with default replica state re-encodes to the same bytes', () => {
  const request = FetchRequest.decode(
    FetchRequest.encode(
      {
        clusterId: null,
        replicaId: -1,
        replicaState: { replicaId: -1, replicaEpoch: -1n },
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: 1024,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ ...defaultFetchRequestFetchTopic(), partitions: [] }],
        forgottenTopicsData: [],
        rackId: '',
      },
      15,
    ),
    15,
  );
  const bytes = FetchRequest.encode(request, 15);
  // No tag in the top-level section: it ends with the empty rack id (01) and a 00 tag count.
  assert.equal(bytes.subarray(-2).toString('hex'), '0100');
});
