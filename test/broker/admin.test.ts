/**
 * Admin APIs over the raw protocol, version by version: CreateTopics, DeleteTopics,
 * CreatePartitions, DeleteRecords, DescribeConfigs, AlterConfigs, IncrementalAlterConfigs,
 * DescribeCluster and DescribeLogDirs, with their per-item error codes and messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { ZERO_UUID } from '../../src/protocol/codec.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { AlterConfigsRequest, AlterConfigsResponse } from '../../src/protocol/generated/messages/alter-configs.ts';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/generated/messages/api-versions.ts';
import {
  CreatePartitionsRequest,
  CreatePartitionsResponse,
} from '../../src/protocol/generated/messages/create-partitions.ts';
import {
  CreateTopicsRequest,
  type CreateTopicsRequestCreatableTopic,
  CreateTopicsResponse,
} from '../../src/protocol/generated/messages/create-topics.ts';
import { DeleteRecordsRequest, DeleteRecordsResponse } from '../../src/protocol/generated/messages/delete-records.ts';
import { DeleteTopicsRequest, DeleteTopicsResponse } from '../../src/protocol/generated/messages/delete-topics.ts';
import {
  DescribeClusterRequest,
  DescribeClusterResponse,
} from '../../src/protocol/generated/messages/describe-cluster.ts';
import {
  DescribeConfigsRequest,
  DescribeConfigsResponse,
} from '../../src/protocol/generated/messages/describe-configs.ts';
import {
  DescribeLogDirsRequest,
  DescribeLogDirsResponse,
} from '../../src/protocol/generated/messages/describe-log-dirs.ts';
import {
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
} from '../../src/protocol/generated/messages/incremental-alter-configs.ts';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/generated/messages/metadata.ts';
import { createRecordBatch, encodeRecordBatchSync } from '../../src/protocol/records/index.ts';
import { RawClient } from '../helpers/raw-client.ts';

const CreateTopics = { request: CreateTopicsRequest, response: CreateTopicsResponse };
const DeleteTopics = { request: DeleteTopicsRequest, response: DeleteTopicsResponse };
const CreatePartitions = { request: CreatePartitionsRequest, response: CreatePartitionsResponse };
const DeleteRecords = { request: DeleteRecordsRequest, response: DeleteRecordsResponse };
const DescribeConfigs = { request: DescribeConfigsRequest, response: DescribeConfigsResponse };
const AlterConfigs = { request: AlterConfigsRequest, response: AlterConfigsResponse };
const IncrementalAlterConfigs = { request: IncrementalAlterConfigsRequest, response: IncrementalAlterConfigsResponse };
const DescribeCluster = { request: DescribeClusterRequest, response: DescribeClusterResponse };
const DescribeLogDirs = { request: DescribeLogDirsRequest, response: DescribeLogDirsResponse };
const Metadata = { request: MetadataRequest, response: MetadataResponse };

const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;
const SOURCE = { TOPIC: 1, STATIC_BROKER: 4, DEFAULT: 5, BROKER_LOGGER: 6 };
const OP = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 };

const TIMEOUT = { timeout: 30_000 };

function topic(
  name: string,
  numPartitions = 1,
  extra: Partial<CreateTopicsRequestCreatableTopic> = {},
): CreateTopicsRequestCreatableTopic {
  return { name, numPartitions, replicationFactor: 1, assignments: [], configs: [], ...extra };
}

function createRequest(topics: CreateTopicsRequestCreatableTopic[], validateOnly = false) {
  return { topics, timeoutMs: 5_000, validateOnly };
}

/** Appends `count` one-record batches with the given timestamp; returns the log. */
async function append(broker: StartedBroker, name: string, partition: number, count: number, timestamp?: bigint) {
  const log = broker.broker.services.logs.getLog(name, partition);
  assert.ok(log, `log ${name}-${partition}`);
  for (let i = 0; i < count; i++) {
    await log.appendAsLeader(encodeRecordBatchSync(createRecordBatch([{ value: `value-${i}` }], { timestamp })));
  }
  return log;
}

describe('admin APIs', TIMEOUT, () => {
  let broker: StartedBroker;
  let client: RawClient;
  before(async () => {
    broker = await startBroker({ config: { 'log.retention.hours': 24, 'auto.create.topics.enable': false } });
    client = await RawClient.connect(broker.port);
  });
  after(async () => {
    client.close();
    await broker.close();
  });

  const create = async (topics: CreateTopicsRequestCreatableTopic[], version = 7, validateOnly = false) =>
    (await client.request(CreateTopics, version, createRequest(topics, validateOnly))).body.topics;

  const describeTopic = async (name: string, version = 4, includeSynonyms = true, keys: string[] | null = null) =>
    (
      await client.request(DescribeConfigs, version, {
        resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: keys }],
        includeSynonyms,
        includeDocumentation: false,
      })
    ).body.results[0]!;

  const overridesOf = async (name: string) =>
    Object.fromEntries(
      (await describeTopic(name)).configs.filter((c) => c.configSource === SOURCE.TOPIC).map((c) => [c.name, c.value]),
    );

  test('ApiVersions advertises every admin API over its full range', async () => {
    const { body } = await client.request({ request: ApiVersionsRequest, response: ApiVersionsResponse }, 3, {
      clientSoftwareName: 'admin-test',
      clientSoftwareVersion: '1',
    });
    const ranges = Object.fromEntries(body.apiKeys.map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]));
    assert.deepEqual(ranges[ApiKey.CreateTopics], [0, 7]);
    assert.deepEqual(ranges[ApiKey.DeleteTopics], [0, 6]);
    assert.deepEqual(ranges[ApiKey.DeleteRecords], [0, 2]);
    assert.deepEqual(ranges[ApiKey.CreatePartitions], [0, 3]);
    assert.deepEqual(ranges[ApiKey.DescribeConfigs], [0, 4]);
    assert.deepEqual(ranges[ApiKey.AlterConfigs], [0, 2]);
    assert.deepEqual(ranges[ApiKey.IncrementalAlterConfigs], [0, 1]);
    assert.deepEqual(ranges[ApiKey.DescribeCluster], [0, 1]);
    assert.deepEqual(ranges[ApiKey.DescribeLogDirs], [0, 4]);
  });

  describe('CreateTopics', () => {
    test('v7 creates a topic and returns its ID, counts and every config with its source', async () => {
      const [result] = await create([topic('ct-v7', 3, { configs: [{ name: 'retention.ms', value: '60000' }] })]);
      assert.equal(result?.errorCode, ErrorCode.NONE);
      assert.equal(result?.errorMessage, null);
      assert.equal(result?.numPartitions, 3);
      assert.equal(result?.replicationFactor, 1);
      assert.notEqual(result?.topicId, ZERO_UUID);
      const configs = new Map(result!.configs!.map((c) => [c.name, c]));
      assert.deepEqual(configs.get('retention.ms'), {
        name: 'retention.ms',
        value: '60000',
        readOnly: false,
        configSource: SOURCE.TOPIC,
        isSensitive: false,
      });
      assert.equal(configs.get('segment.bytes')?.value, '1073741824');
      assert.equal(configs.get('segment.bytes')?.configSource, SOURCE.DEFAULT);
      assert.equal(configs.get('compression.type')?.value, 'producer');
      const metadata = await client.request(Metadata, 12, {
        topics: [{ name: 'ct-v7', topicId: ZERO_UUID }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      assert.equal(metadata.body.topics[0]?.topicId, result?.topicId);
      assert.equal(metadata.body.topics[0]?.partitions.length, 3);
    });

    test('v0 and v4 accept -1 for the broker defaults', async () => {
      const [v0] = await create([topic('ct-v0', -1, { replicationFactor: -1 })], 0);
      assert.deepEqual(v0, {
        name: 'ct-v0',
        topicId: ZERO_UUID,
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        topicConfigErrorCode: 0,
        numPartitions: -1,
        replicationFactor: -1,
        configs: [],
      });
      await create([topic('ct-v4', -1, { replicationFactor: -1 })], 4);
      assert.equal(broker.broker.services.topics.get('ct-v0')?.partitionCount, 1);
      assert.equal(broker.broker.services.topics.get('ct-v4')?.partitionCount, 1);
    });

    test('validateOnly checks everything and creates nothing', async () => {
      const [ok, bad] = await create(
        [topic('ct-validate', 4, { configs: [{ name: 'cleanup.policy', value: 'compact' }] }), topic('ct-bad', 0)],
        7,
        true,
      );
      assert.equal(ok?.errorCode, ErrorCode.NONE);
      assert.equal(ok?.numPartitions, 4);
      assert.equal(ok?.configs?.find((c) => c.name === 'cleanup.policy')?.value, 'compact');
      assert.equal(bad?.errorCode, ErrorCode.INVALID_PARTITIONS);
      assert.equal(broker.broker.services.topics.get('ct-validate'), undefined);
      // v1 is the first version with validateOnly.
      const [v1] = await create([topic('ct-validate', 1)], 1, true);
      assert.equal(v1?.errorCode, ErrorCode.NONE);
      assert.equal(broker.broker.services.topics.get('ct-validate'), undefined);
    });

    test('bad names, counts, configs and duplicates get their own error code and message', async () => {
      await create([topic('ct-exists')]);
      const results = await create([
        topic('bad name!'),
        topic('ct-zero', 0),
        topic('ct-rf', 1, { replicationFactor: 3 }),
        topic('ct-unknown-config', 1, { configs: [{ name: 'no.such.config', value: '1' }] }),
        topic('ct-bad-value', 1, { configs: [{ name: 'retention.ms', value: 'soon' }] }),
        topic('ct-null-value', 1, { configs: [{ name: 'retention.ms', value: null }] }),
        topic('ct-exists'),
        topic('ct-twice'),
        topic('ct-twice'),
        topic('ct-huge', 2_000_000_000),
      ]);
      const byName = new Map(results.map((r) => [r.name, r]));
      assert.equal(results.length, 9, 'a duplicated name gets one result');
      assert.equal(byName.get('ct-huge')?.errorCode, ErrorCode.INVALID_PARTITIONS);
      assert.match(byName.get('ct-huge')!.errorMessage!, /exceed the broker's limit of 100000/);
      assert.equal(byName.get('bad name!')?.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
      assert.equal(byName.get('ct-zero')?.errorCode, ErrorCode.INVALID_PARTITIONS);
      assert.equal(byName.get('ct-rf')?.errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
      assert.equal(
        byName.get('ct-rf')?.errorMessage,
        'Cannot create topic "ct-rf": replication factor 3 exceeds 1 available broker',
      );
      assert.equal(byName.get('ct-unknown-config')?.errorCode, ErrorCode.INVALID_CONFIG);
      assert.match(byName.get('ct-unknown-config')!.errorMessage!, /"no\.such\.config"/);
      assert.equal(byName.get('ct-bad-value')?.errorCode, ErrorCode.INVALID_CONFIG);
      assert.equal(
        byName.get('ct-bad-value')?.errorMessage,
        'Cannot create topic "ct-bad-value": invalid value "soon" for config "retention.ms": expected an integer',
      );
      assert.equal(byName.get('ct-null-value')?.errorCode, ErrorCode.INVALID_CONFIG);
      assert.equal(byName.get('ct-exists')?.errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
      assert.equal(byName.get('ct-twice')?.errorCode, ErrorCode.INVALID_REQUEST);
      assert.equal(byName.get('ct-twice')?.numPartitions, -1);
      for (const name of [
        'ct-zero',
        'ct-rf',
        'ct-unknown-config',
        'ct-bad-value',
        'ct-null-value',
        'ct-twice',
        'ct-huge',
      ]) {
        assert.equal(broker.broker.services.topics.get(name), undefined, name);
      }
    });

    test('manual replica assignments may name only this broker, once per partition, in order', async () => {
      const assignments = (...brokers: number[][]) =>
        brokers.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds }));
      const manual = (name: string, a: ReturnType<typeof assignments>, numPartitions = -1) =>
        topic(name, numPartitions, { replicationFactor: -1, assignments: a });
      const results = await create([
        manual('ra-ok', assignments([1], [1])),
        manual('ra-other-broker', assignments([2])),
        manual('ra-twice', assignments([1, 1])),
        manual('ra-empty', assignments([])),
        manual('ra-with-count', assignments([1]), 3),
        manual('ra-gap', [{ partitionIndex: 1, brokerIds: [1] }]),
      ]);
      const codes = Object.fromEntries(results.map((r) => [r.name, r.errorCode]));
      assert.deepEqual(codes, {
        'ra-ok': ErrorCode.NONE,
        'ra-other-broker': ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        'ra-twice': ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        'ra-empty': ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        'ra-with-count': ErrorCode.INVALID_PARTITIONS,
        'ra-gap': ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      });
      assert.match(results[1]!.errorMessage!, /broker 2, which does not exist/);
      assert.equal(results[0]?.numPartitions, 2);
      assert.equal(broker.broker.services.topics.get('ra-ok')?.partitionCount, 2);
    });
  });

  describe('DeleteTopics', () => {
    test('by name (v1, v5) and by ID (v6); unknown names and IDs get their codes', async () => {
      await create([topic('dt-a', 2), topic('dt-b'), topic('dt-c')]);
      const v1 = await client.request(DeleteTopics, 1, {
        topics: [],
        topicNames: ['dt-a', 'dt-missing'],
        timeoutMs: 1,
      });
      assert.deepEqual(
        v1.body.responses.map((r) => [r.name, r.errorCode]),
        [
          ['dt-a', ErrorCode.NONE],
          ['dt-missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ],
      );
      assert.equal(broker.broker.services.topics.get('dt-a'), undefined);
      assert.equal(broker.broker.services.logs.getLog('dt-a', 0), undefined);
      const v5 = await client.request(DeleteTopics, 5, { topics: [], topicNames: ['dt-missing'], timeoutMs: 1 });
      assert.equal(v5.body.responses[0]?.errorMessage, 'Cannot delete topic "dt-missing": it does not exist');

      const id = broker.broker.services.topics.get('dt-b')!.topicId;
      const v6 = await client.request(DeleteTopics, 6, {
        topics: [
          { name: null, topicId: id },
          { name: 'dt-c', topicId: ZERO_UUID },
          { name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAQ' },
          { name: 'dt-x', topicId: 'AAAAAAAAAAAAAAAAAAAAAg' },
        ],
        topicNames: [],
        timeoutMs: 1,
      });
      assert.deepEqual(
        v6.body.responses.map((r) => [r.name, r.errorCode]),
        [
          ['dt-b', ErrorCode.NONE],
          ['dt-c', ErrorCode.NONE],
          [null, ErrorCode.UNKNOWN_TOPIC_ID],
          ['dt-x', ErrorCode.INVALID_REQUEST],
        ],
      );
      assert.equal(v6.body.responses[0]?.topicId, id);
      assert.equal(broker.broker.services.topics.get('dt-b'), undefined);
    });

    test('internal topics are not deleted', async () => {
      await create([topic('__consumer_offsets')]);
      const { body } = await client.request(DeleteTopics, 6, {
        topics: [{ name: '__consumer_offsets', topicId: ZERO_UUID }],
        topicNames: [],
        timeoutMs: 1,
      });
      assert.equal(body.responses[0]?.errorCode, ErrorCode.INVALID_REQUEST);
      assert.ok(broker.broker.services.topics.get('__consumer_offsets'));
    });
  });

  describe('CreatePartitions', () => {
    test('grows a topic (v0, v3), validates only when asked, and refuses to shrink', async () => {
      await create([topic('cp', 2)]);
      const request = (count: number, validateOnly = false, name = 'cp', assignments: number[][] | null = null) => ({
        topics: [{ name, count, assignments: assignments?.map((brokerIds) => ({ brokerIds })) ?? null }],
        timeoutMs: 1,
        validateOnly,
      });
      const grow = await client.request(CreatePartitions, 0, request(3));
      assert.deepEqual(grow.body.results, [{ name: 'cp', errorCode: ErrorCode.NONE, errorMessage: null }]);
      assert.ok(broker.broker.services.logs.getLog('cp', 2));
      const validate = await client.request(CreatePartitions, 3, request(5, true));
      assert.equal(validate.body.results[0]?.errorCode, ErrorCode.NONE);
      assert.equal(broker.broker.services.topics.get('cp')?.partitionCount, 3);

      const same = await client.request(CreatePartitions, 3, request(3));
      assert.equal(same.body.results[0]?.errorCode, ErrorCode.INVALID_PARTITIONS);
      assert.equal(
        same.body.results[0]?.errorMessage,
        'Cannot add partitions to topic "cp": it already has 3 partitions',
      );
      assert.equal(
        (await client.request(CreatePartitions, 3, request(1))).body.results[0]?.errorCode,
        ErrorCode.INVALID_PARTITIONS,
      );
      assert.equal(
        (await client.request(CreatePartitions, 3, request(4, false, 'cp-missing'))).body.results[0]?.errorCode,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      );
    });

    test('assignments for the new partitions must name this broker, one list per partition', async () => {
      await create([topic('cpa', 1)]);
      const request = (count: number, assignments: number[][]) => ({
        topics: [{ name: 'cpa', count, assignments: assignments.map((brokerIds) => ({ brokerIds })) }],
        timeoutMs: 1,
        validateOnly: false,
      });
      const codes = async (count: number, assignments: number[][]) =>
        (await client.request(CreatePartitions, 2, request(count, assignments))).body.results[0]?.errorCode;
      assert.equal(await codes(3, [[1]]), ErrorCode.INVALID_REPLICA_ASSIGNMENT);
      assert.equal(await codes(2, [[2]]), ErrorCode.INVALID_REPLICA_ASSIGNMENT);
      assert.equal(await codes(2, [[1, 1]]), ErrorCode.INVALID_REPLICA_ASSIGNMENT);
      assert.equal(await codes(3, [[1], [1]]), ErrorCode.NONE);
      assert.equal(broker.broker.services.topics.get('cpa')?.partitionCount, 3);
    });
  });

  describe('DeleteRecords', () => {
    test('raises the log start offset; -1 means the high watermark; beyond it is out of range', async () => {
      await create([topic('dr', 2)]);
      const log = await append(broker, 'dr', 0, 10);
      await append(broker, 'dr', 1, 4);
      const request = (partitions: Array<[number, bigint]>, name = 'dr') => ({
        topics: [{ name, partitions: partitions.map(([partitionIndex, offset]) => ({ partitionIndex, offset })) }],
        timeoutMs: 1,
      });
      const v0 = await client.request(DeleteRecords, 0, request([[0, 3n]]));
      assert.deepEqual(v0.body.topics[0]?.partitions, [
        { partitionIndex: 0, lowWatermark: 3n, errorCode: ErrorCode.NONE },
      ]);
      assert.equal(log.logStartOffset, 3n);
      const v2 = await client.request(
        DeleteRecords,
        2,
        request([
          [1, -1n],
          [0, 11n],
          [0, -5n],
          [7, 0n],
        ]),
      );
      assert.deepEqual(
        v2.body.topics[0]?.partitions.map((p) => [p.partitionIndex, p.lowWatermark, p.errorCode]),
        [
          [1, 4n, ErrorCode.NONE],
          [0, -1n, ErrorCode.OFFSET_OUT_OF_RANGE],
          [0, -1n, ErrorCode.OFFSET_OUT_OF_RANGE],
          [7, -1n, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ],
      );
      const missing = await client.request(DeleteRecords, 1, request([[0, 0n]], 'dr-missing'));
      assert.equal(missing.body.topics[0]?.partitions[0]?.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      // Below the current start: nothing changes, the low watermark stays.
      const below = await client.request(DeleteRecords, 2, request([[0, 1n]]));
      assert.equal(below.body.topics[0]?.partitions[0]?.lowWatermark, 3n);
    });
  });

  describe('DescribeConfigs', () => {
    test('a topic: every config with value, source, synonyms and type (v4)', async () => {
      await create([topic('dc', 1, { configs: [{ name: 'max.message.bytes', value: '2048' }] })]);
      const result = await describeTopic('dc');
      assert.equal(result.errorCode, ErrorCode.NONE);
      assert.equal(result.errorMessage, null);
      const configs = new Map(result.configs.map((c) => [c.name, c]));
      assert.ok(configs.size >= 20);
      assert.deepEqual(configs.get('max.message.bytes'), {
        name: 'max.message.bytes',
        value: '2048',
        readOnly: false,
        isDefault: false,
        configSource: SOURCE.TOPIC,
        isSensitive: false,
        synonyms: [
          { name: 'max.message.bytes', value: '2048', source: SOURCE.TOPIC },
          { name: 'message.max.bytes', value: '1048588', source: SOURCE.DEFAULT },
        ],
        configType: 3, // INT
        documentation: null,
      });
      // log.retention.hours=24 is in this broker's config: the topic inherits it.
      const retention = configs.get('retention.ms')!;
      assert.equal(retention.value, '86400000');
      assert.equal(retention.configSource, SOURCE.STATIC_BROKER);
      assert.deepEqual(retention.synonyms, [
        { name: 'log.retention.hours', value: '24', source: SOURCE.STATIC_BROKER },
        { name: 'log.retention.hours', value: '168', source: SOURCE.DEFAULT },
      ]);
      assert.equal(retention.configType, 5); // LONG
      assert.equal(configs.get('cleanup.policy')?.configType, 7); // LIST
      assert.equal(configs.get('compression.type')?.configSource, SOURCE.DEFAULT);
      assert.deepEqual(configs.get('compression.type')?.synonyms, []);
    });

    test('v0 reports isDefault, v1 synonyms only when asked, keys filter the list', async () => {
      const v0 = await describeTopic('dc', 0, false, ['max.message.bytes', 'segment.bytes', 'no.such.key']);
      assert.deepEqual(
        v0.configs.map((c) => [c.name, c.isDefault]),
        [
          ['max.message.bytes', false],
          ['segment.bytes', true],
        ],
      );
      const v1 = await describeTopic('dc', 1, false, ['max.message.bytes']);
      assert.deepEqual(v1.configs[0]?.synonyms, []);
      assert.equal(v1.configs[0]?.configSource, SOURCE.TOPIC);
      const v2 = await describeTopic('dc', 2, true, ['max.message.bytes']);
      assert.equal(v2.configs[0]?.synonyms.length, 2);
      const v3 = await describeTopic('dc', 3, false, ['max.message.bytes']);
      assert.equal(v3.configs[0]?.configType, 3);
    });

    test('unknown and badly named topics, other brokers and other resource types get errors', async () => {
      const { body } = await client.request(DescribeConfigs, 4, {
        resources: [
          { resourceType: TOPIC, resourceName: 'dc-missing', configurationKeys: null },
          { resourceType: TOPIC, resourceName: 'bad name!', configurationKeys: null },
          { resourceType: BROKER, resourceName: '2', configurationKeys: null },
          { resourceType: BROKER, resourceName: 'one', configurationKeys: null },
          { resourceType: 32, resourceName: 'group', configurationKeys: null },
        ],
        includeSynonyms: false,
        includeDocumentation: true,
      });
      assert.deepEqual(
        body.results.map((r) => r.errorCode),
        [
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          ErrorCode.INVALID_TOPIC_EXCEPTION,
          ErrorCode.INVALID_REQUEST,
          ErrorCode.INVALID_REQUEST,
          ErrorCode.INVALID_REQUEST,
        ],
      );
      assert.equal(body.results[0]?.errorMessage, 'Cannot describe configs of topic "dc-missing": it does not exist');
      assert.equal(body.results[2]?.errorMessage, 'Cannot describe configs of broker "2": this is broker 1');
    });

    test('the broker: its static configs, read-only, with sources and synonyms; the logger level', async () => {
      const { body } = await client.request(DescribeConfigs, 4, {
        resources: [
          { resourceType: BROKER, resourceName: '1', configurationKeys: null },
          { resourceType: BROKER, resourceName: '', configurationKeys: null },
          { resourceType: BROKER_LOGGER, resourceName: '1', configurationKeys: null },
        ],
        includeSynonyms: true,
        includeDocumentation: false,
      });
      const [own, defaults, logger] = body.results;
      assert.equal(own?.errorCode, ErrorCode.NONE);
      const configs = new Map(own!.configs.map((c) => [c.name, c]));
      assert.equal(configs.get('log.retention.hours')?.value, '24');
      assert.equal(configs.get('log.retention.hours')?.configSource, SOURCE.STATIC_BROKER);
      assert.deepEqual(configs.get('log.retention.hours')?.synonyms, [
        { name: 'log.retention.hours', value: '24', source: SOURCE.STATIC_BROKER },
        { name: 'log.retention.hours', value: '168', source: SOURCE.DEFAULT },
      ]);
      assert.equal(configs.get('log.retention.ms')?.value, null);
      assert.equal(configs.get('num.partitions')?.configSource, SOURCE.DEFAULT);
      assert.equal(configs.get('num.partitions')?.configType, 3);
      assert.equal(configs.get('auto.create.topics.enable')?.configType, 1);
      assert.ok([...configs.values()].every((c) => c.readOnly));
      assert.deepEqual(defaults?.configs, []);
      assert.equal(logger?.errorCode, ErrorCode.NONE);
      assert.deepEqual(
        logger?.configs.map((c) => [c.name, c.value, c.configSource]),
        [['root', 'OFF', SOURCE.BROKER_LOGGER]],
      );
    });
  });

  describe('AlterConfigs', () => {
    test('replaces the overrides (v0, v2), applies them to the logs, validateOnly changes nothing', async () => {
      await create([topic('ac', 2, { configs: [{ name: 'retention.ms', value: '1000' }] })]);
      const request = (configs: Array<{ name: string; value: string | null }>, validateOnly = false, name = 'ac') => ({
        resources: [{ resourceType: TOPIC, resourceName: name, configs }],
        validateOnly,
      });
      const v0 = await client.request(AlterConfigs, 0, request([{ name: 'max.message.bytes', value: '512' }]));
      assert.deepEqual(v0.body.responses, [
        { errorCode: ErrorCode.NONE, errorMessage: null, resourceType: TOPIC, resourceName: 'ac' },
      ]);
      assert.deepEqual(await overridesOf('ac'), { 'max.message.bytes': '512' });
      const log = broker.broker.services.logs.getLog('ac', 1)!;
      assert.equal(log.config['max.message.bytes'], 512);
      assert.equal(log.config['retention.ms'], 86_400_000, 'retention.ms went back to the broker default');

      const validate = await client.request(AlterConfigs, 2, request([{ name: 'segment.ms', value: '1000' }], true));
      assert.equal(validate.body.responses[0]?.errorCode, ErrorCode.NONE);
      assert.deepEqual(await overridesOf('ac'), { 'max.message.bytes': '512' });

      const bad = await client.request(AlterConfigs, 2, request([{ name: 'segment.ms', value: '0' }]));
      assert.equal(bad.body.responses[0]?.errorCode, ErrorCode.INVALID_CONFIG);
      assert.equal(
        bad.body.responses[0]?.errorMessage,
        'Cannot alter configs of topic "ac": invalid value "0" for config "segment.ms": must be at least 1',
      );
      const unknown = await client.request(AlterConfigs, 1, request([{ name: 'no.such', value: '0' }]));
      assert.equal(unknown.body.responses[0]?.errorCode, ErrorCode.INVALID_CONFIG);
      const nullValue = await client.request(AlterConfigs, 1, request([{ name: 'segment.ms', value: null }]));
      assert.equal(nullValue.body.responses[0]?.errorCode, ErrorCode.INVALID_REQUEST);
      const missing = await client.request(AlterConfigs, 1, request([], false, 'ac-missing'));
      assert.equal(missing.body.responses[0]?.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      assert.deepEqual(await overridesOf('ac'), { 'max.message.bytes': '512' });
    });

    test('broker configs cannot be changed while it runs', async () => {
      const { body } = await client.request(AlterConfigs, 2, {
        resources: [
          { resourceType: BROKER, resourceName: '1', configs: [{ name: 'log.retention.hours', value: '1' }] },
          { resourceType: BROKER, resourceName: '', configs: [] },
          { resourceType: BROKER_LOGGER, resourceName: '1', configs: [{ name: 'root', value: 'INFO' }] },
        ],
        validateOnly: false,
      });
      assert.deepEqual(
        body.responses.map((r) => r.errorCode),
        [ErrorCode.INVALID_REQUEST, ErrorCode.NONE, ErrorCode.INVALID_REQUEST],
      );
      assert.match(body.responses[0]!.errorMessage!, /dynamic broker configs are not supported/);
    });
  });

  describe('IncrementalAlterConfigs', () => {
    test('SET, DELETE, APPEND and SUBTRACT (v0, v1), validateOnly, and refusals', async () => {
      await create([topic('iac', 1, { configs: [{ name: 'retention.bytes', value: '1000000' }] })]);
      const alter = async (
        configs: Array<{ name: string; configOperation: number; value: string | null }>,
        validateOnly = false,
        version = 1,
      ) =>
        (
          await client.request(IncrementalAlterConfigs, version, {
            resources: [{ resourceType: TOPIC, resourceName: 'iac', configs }],
            validateOnly,
          })
        ).body.responses[0]!;
      const set = await alter(
        [
          { name: 'segment.bytes', configOperation: OP.SET, value: '4096' },
          { name: 'cleanup.policy', configOperation: OP.APPEND, value: 'compact' },
        ],
        false,
        0,
      );
      assert.equal(set.errorCode, ErrorCode.NONE);
      assert.deepEqual(await overridesOf('iac'), {
        'cleanup.policy': 'delete,compact',
        'retention.bytes': '1000000',
        'segment.bytes': '4096',
      });
      const log = broker.broker.services.logs.getLog('iac', 0)!;
      assert.deepEqual(log.config['cleanup.policy'], ['delete', 'compact']);
      assert.equal(log.config['segment.bytes'], 4096);

      assert.equal(
        (
          await alter([
            { name: 'cleanup.policy', configOperation: OP.SUBTRACT, value: 'delete' },
            { name: 'retention.bytes', configOperation: OP.DELETE, value: null },
          ])
        ).errorCode,
        ErrorCode.NONE,
      );
      assert.deepEqual(await overridesOf('iac'), { 'cleanup.policy': 'compact', 'segment.bytes': '4096' });
      assert.equal(log.config['retention.bytes'], -1);

      const validate = await alter([{ name: 'segment.bytes', configOperation: OP.SET, value: '8192' }], true);
      assert.equal(validate.errorCode, ErrorCode.NONE);
      assert.equal(log.config['segment.bytes'], 4096);

      const notList = await alter([{ name: 'retention.ms', configOperation: OP.APPEND, value: '5' }]);
      assert.equal(notList.errorCode, ErrorCode.INVALID_CONFIG);
      assert.equal(
        notList.errorMessage,
        'Cannot alter configs of topic "iac": cannot APPEND config "retention.ms" because it is not a list',
      );
      assert.equal(
        (await alter([{ name: 'retention.ms', configOperation: 9, value: '5' }])).errorCode,
        ErrorCode.INVALID_REQUEST,
      );
      assert.equal(
        (await alter([{ name: 'retention.ms', configOperation: OP.SET, value: null }])).errorCode,
        ErrorCode.INVALID_REQUEST,
      );
      assert.equal(
        (
          await alter([
            { name: 'retention.ms', configOperation: OP.SET, value: '1' },
            { name: 'retention.ms', configOperation: OP.DELETE, value: null },
          ])
        ).errorCode,
        ErrorCode.INVALID_REQUEST,
      );
      assert.equal(
        (await alter([{ name: 'cleanup.policy', configOperation: OP.APPEND, value: 'shred' }])).errorCode,
        ErrorCode.INVALID_CONFIG,
      );
      assert.deepEqual(await overridesOf('iac'), { 'cleanup.policy': 'compact', 'segment.bytes': '4096' });
    });

    test('the root logger level can be set; broker configs cannot', async () => {
      const { body } = await client.request(IncrementalAlterConfigs, 1, {
        resources: [
          {
            resourceType: BROKER_LOGGER,
            resourceName: '1',
            configs: [{ name: 'root', configOperation: OP.SET, value: 'ERROR' }],
          },
          {
            resourceType: BROKER,
            resourceName: '1',
            configs: [{ name: 'num.partitions', configOperation: OP.SET, value: '3' }],
          },
          { resourceType: BROKER_LOGGER, resourceName: '1', configs: [] },
        ],
        validateOnly: false,
      });
      assert.deepEqual(
        body.responses.map((r) => r.errorCode),
        // The logger resource is listed twice: both entries are refused, as Kafka does.
        [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST],
      );
      const once = await client.request(IncrementalAlterConfigs, 1, {
        resources: [
          {
            resourceType: BROKER_LOGGER,
            resourceName: '1',
            configs: [{ name: 'root', configOperation: OP.SET, value: 'ERROR' }],
          },
        ],
        validateOnly: false,
      });
      assert.equal(once.body.responses[0]?.errorCode, ErrorCode.NONE);
      assert.equal(broker.broker.logger.level, 'error');
      const described = await client.request(DescribeConfigs, 4, {
        resources: [{ resourceType: BROKER_LOGGER, resourceName: '1', configurationKeys: ['root'] }],
        includeSynonyms: false,
        includeDocumentation: false,
      });
      assert.equal(described.body.results[0]?.configs[0]?.value, 'ERROR');
      broker.broker.logger.level = 'silent';
    });
  });

  describe('DescribeCluster', () => {
    test('this broker is the cluster and its controller (v0, v1)', async () => {
      const v0 = await client.request(DescribeCluster, 0, {
        includeClusterAuthorizedOperations: true,
        endpointType: 1,
      });
      assert.equal(v0.body.errorCode, ErrorCode.NONE);
      assert.equal(v0.body.clusterId, broker.broker.services.clusterId);
      assert.equal(v0.body.controllerId, 1);
      assert.deepEqual(v0.body.brokers, [{ brokerId: 1, host: '127.0.0.1', port: broker.port, rack: null }]);
      assert.ok((v0.body.clusterAuthorizedOperations & (1 << 8)) !== 0, 'DESCRIBE');
      const v1 = await client.request(DescribeCluster, 1, {
        includeClusterAuthorizedOperations: false,
        endpointType: 1,
      });
      assert.equal(v1.body.endpointType, 1);
      assert.equal(v1.body.clusterAuthorizedOperations, -2147483648);
      const controller = await client.request(DescribeCluster, 1, {
        includeClusterAuthorizedOperations: false,
        endpointType: 2,
      });
      assert.equal(controller.body.errorCode, ErrorCode.MISMATCHED_ENDPOINT_TYPE);
    });
  });

  describe('DescribeLogDirs', () => {
    test('the data directory with partition sizes (v0–v4) and its space (v4)', async () => {
      await create([topic('ld', 2)]);
      const log = await append(broker, 'ld', 1, 3);
      for (const version of [0, 1, 2, 3, 4]) {
        const { body } = await client.request(DescribeLogDirs, version, {
          topics: [{ topic: 'ld', partitions: [1, 5] }],
        });
        assert.equal(body.results.length, 1, `v${version}`);
        const [dir] = body.results;
        assert.equal(dir?.errorCode, ErrorCode.NONE);
        assert.equal(dir?.logDir, broker.dataDir);
        assert.deepEqual(dir?.topics, [
          {
            name: 'ld',
            partitions: [{ partitionIndex: 1, partitionSize: BigInt(log.size), offsetLag: 0n, isFutureKey: false }],
          },
        ]);
        if (version >= 4) {
          assert.ok(dir!.totalBytes > 0n);
          assert.ok(dir!.usableBytes > 0n && dir!.usableBytes <= dir!.totalBytes);
        } else {
          assert.equal(dir?.totalBytes, -1n);
        }
      }
      assert.ok(log.size > 0);
      const all = await client.request(DescribeLogDirs, 4, { topics: null });
      const ld = all.body.results[0]!.topics.find((t) => t.name === 'ld');
      assert.deepEqual(
        ld?.partitions.map((p) => p.partitionIndex),
        [0, 1],
      );
      const none = await client.request(DescribeLogDirs, 4, { topics: [] });
      assert.deepEqual(none.body.results[0]?.topics, []);
    });
  });
});

describe('admin with delete.topic.enable=false', TIMEOUT, () => {
  let broker: StartedBroker;
  before(async () => {
    broker = await startBroker({ config: { 'delete.topic.enable': false } });
  });
  after(() => broker.close());

  test('DeleteTopics answers TOPIC_DELETION_DISABLED (v3+) or INVALID_REQUEST (v0–v2)', async () => {
    const client = await RawClient.connect(broker.port);
    await client.request(CreateTopics, 7, createRequest([topic('kept')]));
    const v3 = await client.request(DeleteTopics, 3, { topics: [], topicNames: ['kept'], timeoutMs: 1 });
    assert.equal(v3.body.responses[0]?.errorCode, ErrorCode.TOPIC_DELETION_DISABLED);
    const v2 = await client.request(DeleteTopics, 2, { topics: [], topicNames: ['kept'], timeoutMs: 1 });
    assert.equal(v2.body.responses[0]?.errorCode, ErrorCode.INVALID_REQUEST);
    assert.ok(broker.broker.services.topics.get('kept'));
    client.close();
  });
});
