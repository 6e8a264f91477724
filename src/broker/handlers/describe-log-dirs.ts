import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  DescribeLogDirsRequest,
  DescribeLogDirsResponse,
  type DescribeLogDirsResponseDescribeLogDirsTopic,
} from '../../protocol/generated/messages/describe-log-dirs.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * DescribeLogDirs v0–v4: the one data directory with the size of each partition in it
 * (all of them when the request's topics are null, else those asked for that exist).
 * There are no future replicas and no followers, so isFutureKey is false and the offset
 * lag 0. v3 adds a top-level error code, v4 the file system's total and usable bytes.
 * An offline directory answers KAFKA_STORAGE_ERROR and no partitions.
 */
export function describeLogDirsHandler(
  services: BrokerServices,
): ApiHandler<DescribeLogDirsRequest, DescribeLogDirsResponse> {
  return defineHandler(
    { request: DescribeLogDirsRequest, response: DescribeLogDirsResponse },
    { min: 0, max: 4 },
    async (req) => {
      const dir = await services.topics.describeLogDir();
      const wanted =
        req.topics === null ? null : new Map(req.topics.map((t) => [t.topic, new Set(t.partitions)] as const));
      const byTopic = new Map<string, DescribeLogDirsResponseDescribeLogDirsTopic>();
      if (!dir.offline) {
        const partitions = [...dir.partitions].sort((a, b) =>
          a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
        );
        for (const { topic, partition, size } of partitions) {
          if (wanted !== null && !wanted.get(topic)?.has(partition)) continue;
          let entry = byTopic.get(topic);
          if (entry === undefined) {
            entry = { name: topic, partitions: [] };
            byTopic.set(topic, entry);
          }
          entry.partitions.push({
            partitionIndex: partition,
            partitionSize: BigInt(size),
            offsetLag: 0n,
            isFutureKey: false,
          });
        }
      }
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        results: [
          {
            errorCode: dir.offline ? ErrorCode.KAFKA_STORAGE_ERROR : ErrorCode.NONE,
            logDir: dir.path,
            topics: [...byTopic.values()],
            totalBytes: dir.totalBytes,
            usableBytes: dir.usableBytes,
          },
        ],
      };
    },
  );
}
