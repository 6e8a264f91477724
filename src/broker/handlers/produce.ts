import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  ProduceRequest,
  ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
  type ProduceResponseTopicProduceResponse,
} from '../../protocol/generated/messages/produce.ts';
import { errorCodeOf, errorMessageOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import { CloseConnectionError, recordErrorsOf } from '../services/replica-errors.ts';
import type { BrokerServices } from '../services.ts';

/**
 * Produce v0–v11. v0–v2 carry magic 0/1 message sets, which are accepted by converting them
 * to a magic-2 batch (advertising v0 is what makes librdkafka 2.0 use gzip, snappy and lz4).
 * Every partition is appended independently; a failed one gets its error code and the
 * others go on. acks=0 gets no response, or, when a partition failed, a closed connection
 * (after the responses already queued), as Kafka does, so the client refreshes metadata.
 */
export function produceHandler(services: BrokerServices): ApiHandler<ProduceRequest, ProduceResponse> {
  const { replicas, logger } = services;

  const failed = (index: number, err: unknown, version: number): ProduceResponsePartitionProduceResponse => {
    const errorCode = errorCodeOf(err);
    if (errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) logger.error({ err }, 'Produce failed unexpectedly');
    const recordErrors = version >= 8 ? recordErrorsOf(err) : [];
    return {
      index,
      errorCode,
      baseOffset: -1n,
      logAppendTimeMs: -1n,
      logStartOffset: -1n,
      recordErrors: recordErrors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message })),
      errorMessage: errorMessageOf(err),
      currentLeader: { leaderId: -1, leaderEpoch: -1 },
    };
  };

  return defineHandler(
    { request: ProduceRequest, response: ProduceResponse },
    { min: 0, max: 11 },
    async (req, ctx) => {
      const version = ctx.apiVersion;
      // Every append starts here, synchronously and in request order: that is what keeps
      // the order of pipelined produce requests on one connection (see Partition.append).
      const topics = req.topicData.map((topic) => ({
        name: topic.name,
        partitions: topic.partitionData.map((p) =>
          replicas
            .appendRecords({
              topic: topic.name,
              partition: p.index,
              records: p.records,
              acks: req.acks,
              apiVersion: version,
            })
            .then(
              (info): ProduceResponsePartitionProduceResponse => ({
                index: p.index,
                errorCode: ErrorCode.NONE,
                baseOffset: info.baseOffset,
                logAppendTimeMs: info.logAppendTimeMs,
                logStartOffset: info.logStartOffset,
                recordErrors: [],
                errorMessage: null,
                currentLeader: { leaderId: -1, leaderEpoch: -1 },
              }),
              (err: unknown) => failed(p.index, err, version),
            ),
        ),
      }));
      const responses: ProduceResponseTopicProduceResponse[] = [];
      for (const topic of topics) {
        responses.push({ name: topic.name, partitionResponses: await Promise.all(topic.partitions) });
      }
      if (req.acks === 0) {
        for (const topic of responses) {
          const error = topic.partitionResponses.find((p) => p.errorCode !== ErrorCode.NONE);
          if (error) {
            throw new CloseConnectionError(
              `acks=0 produce to "${topic.name}-${error.index}" failed with error code ${error.errorCode}`,
            );
          }
        }
        return null;
      }
      return { responses, throttleTimeMs: 0, nodeEndpoints: [] };
    },
  );
}
