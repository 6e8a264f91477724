import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import { LeaveGroupRequest, LeaveGroupResponse } from '../../protocol/generated/messages/leave-group.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * LeaveGroup v0–v5: one member up to v2, a batch of members (by member id or, for an
 * administrative removal, by group instance id) from v3. Up to v2 the single member's
 * error is the response's error.
 */
export function leaveGroupHandler(services: BrokerServices): ApiHandler<LeaveGroupRequest, LeaveGroupResponse> {
  return defineHandler(
    { request: LeaveGroupRequest, response: LeaveGroupResponse },
    { min: 0, max: 5 },
    async (req, ctx) => {
      const batched = ctx.apiVersion >= 3;
      const leaving = batched
        ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
        : [{ memberId: req.memberId, groupInstanceId: null }];
      const result = await services.groups.leaveGroup(req.groupId, leaving);
      if (batched) return { throttleTimeMs: 0, errorCode: result.errorCode, members: result.members };
      const memberError = result.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE;
      return {
        throttleTimeMs: 0,
        errorCode: result.errorCode !== ErrorCode.NONE ? result.errorCode : memberError,
        members: [],
      };
    },
  );
}
