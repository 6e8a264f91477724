import type { ApiHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';
import { alterConfigsHandler } from './alter-configs.ts';
import { apiVersionsHandler } from './api-versions.ts';
import { createPartitionsHandler } from './create-partitions.ts';
import { createTopicsHandler } from './create-topics.ts';
import { deleteRecordsHandler } from './delete-records.ts';
import { deleteTopicsHandler } from './delete-topics.ts';
import { describeClusterHandler } from './describe-cluster.ts';
import { describeConfigsHandler } from './describe-configs.ts';
import { describeLogDirsHandler } from './describe-log-dirs.ts';
import { fetchHandler } from './fetch.ts';
import { incrementalAlterConfigsHandler } from './incremental-alter-configs.ts';
import { listOffsetsHandler } from './list-offsets.ts';
import { metadataHandler } from './metadata.ts';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.ts';
import { produceHandler } from './produce.ts';

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
  ] as ApiHandler<never, never>[];
}
