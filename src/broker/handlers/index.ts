import type { ApiHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';
import { addOffsetsToTxnHandler } from './add-offsets-to-txn.ts';
import { addPartitionsToTxnHandler } from './add-partitions-to-txn.ts';
import { alterConfigsHandler } from './alter-configs.ts';
import { apiVersionsHandler } from './api-versions.ts';
import { consumerGroupDescribeHandler } from './consumer-group-describe.ts';
import { consumerGroupHeartbeatHandler } from './consumer-group-heartbeat.ts';
import { createPartitionsHandler } from './create-partitions.ts';
import { createTopicsHandler } from './create-topics.ts';
import { deleteGroupsHandler } from './delete-groups.ts';
import { deleteRecordsHandler } from './delete-records.ts';
import { deleteTopicsHandler } from './delete-topics.ts';
import { describeClusterHandler } from './describe-cluster.ts';
import { describeConfigsHandler } from './describe-configs.ts';
import { describeGroupsHandler } from './describe-groups.ts';
import { describeLogDirsHandler } from './describe-log-dirs.ts';
import { describeProducersHandler } from './describe-producers.ts';
import { describeTransactionsHandler } from './describe-transactions.ts';
import { endTxnHandler } from './end-txn.ts';
import { fetchHandler } from './fetch.ts';
import { findCoordinatorHandler } from './find-coordinator.ts';
import { heartbeatHandler } from './heartbeat.ts';
import { incrementalAlterConfigsHandler } from './incremental-alter-configs.ts';
import { initProducerIdHandler } from './init-producer-id.ts';
import { joinGroupHandler } from './join-group.ts';
import { leaveGroupHandler } from './leave-group.ts';
import { listGroupsHandler } from './list-groups.ts';
import { listOffsetsHandler } from './list-offsets.ts';
import { listTransactionsHandler } from './list-transactions.ts';
import { metadataHandler } from './metadata.ts';
import { offsetCommitHandler } from './offset-commit.ts';
import { offsetDeleteHandler } from './offset-delete.ts';
import { offsetFetchHandler } from './offset-fetch.ts';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.ts';
import { produceHandler } from './produce.ts';
import { syncGroupHandler } from './sync-group.ts';
import { txnOffsetCommitHandler } from './txn-offset-commit.ts';

/** Every API the broker serves; ApiVersions advertises exactly these. */
export function allHandlers(services: BrokerServices): ApiHandler<never, never>[] {
  return [
    apiVersionsHandler(services),
    metadataHandler(services),
    // Data path
    produceHandler(services),
    fetchHandler(services),
    listOffsetsHandler(services),
    offsetForLeaderEpochHandler(services),
    // Admin
    createTopicsHandler(services),
    deleteTopicsHandler(services),
    createPartitionsHandler(services),
    deleteRecordsHandler(services),
    describeConfigsHandler(services),
    alterConfigsHandler(services),
    incrementalAlterConfigsHandler(services),
    describeClusterHandler(services),
    describeLogDirsHandler(services),
    // Groups and committed offsets
    findCoordinatorHandler(services),
    joinGroupHandler(services),
    syncGroupHandler(services),
    heartbeatHandler(services),
    leaveGroupHandler(services),
    offsetCommitHandler(services),
    offsetFetchHandler(services),
    offsetDeleteHandler(services),
    describeGroupsHandler(services),
    listGroupsHandler(services),
    deleteGroupsHandler(services),
    consumerGroupHeartbeatHandler(services),
    consumerGroupDescribeHandler(services),
    // Idempotent producers and transactions
    initProducerIdHandler(services),
    addPartitionsToTxnHandler(services),
    addOffsetsToTxnHandler(services),
    txnOffsetCommitHandler(services),
    endTxnHandler(services),
    describeTransactionsHandler(services),
    listTransactionsHandler(services),
    describeProducersHandler(services),
  ] as ApiHandler<never, never>[];
}
