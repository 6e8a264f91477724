import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import { SyncGroupRequest, SyncGroupResponse } from '../../protocol/generated/messages/sync-group.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/** SyncGroup v0–v5: the leader hands in the assignment; every member waits for its share. */
export function syncGroupHandler(services: BrokerServices): ApiHandler<SyncGroupRequest, SyncGroupResponse> {
  return defineHandler(
    { request: SyncGroupRequest, response: SyncGroupResponse },
    { min: 0, max: 5 },
    async (req, ctx) => {
      const v = ctx.apiVersion;
      // From v5 the protocol type and name are mandatory.
      if (v >= 5 && (req.protocolType === null || req.protocolName === null)) {
        return {
          throttleTimeMs: 0,
          errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
          protocolType: null,
          protocolName: null,
          assignment: Buffer.alloc(0),
        };
      }
      const result = await services.groups.syncGroup({
        groupId: req.groupId,
        generationId: req.generationId,
        memberId: req.memberId,
        groupInstanceId: v >= 3 ? req.groupInstanceId : null,
        protocolType: v >= 5 ? req.protocolType : null,
        protocolName: v >= 5 ? req.protocolName : null,
        assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
      });
      return { throttleTimeMs: 0, ...result };
    },
  );
}
