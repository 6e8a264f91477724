import { JoinGroupRequest, JoinGroupResponse } from '../../protocol/generated/messages/join-group.ts';
import { clientHostOf } from '../group/client-host.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * JoinGroup v0–v9. From v4 a new dynamic member first gets MEMBER_ID_REQUIRED with its id;
 * v5 adds static membership; v9 lets a rejoining static leader skip the assignment. The
 * response may wait for the rebalance (up to the rebalance timeout).
 */
export function joinGroupHandler(services: BrokerServices): ApiHandler<JoinGroupRequest, JoinGroupResponse> {
  return defineHandler(
    { request: JoinGroupRequest, response: JoinGroupResponse },
    { min: 0, max: 9 },
    async (req, ctx) => {
      const v = ctx.apiVersion;
      const result = await services.groups.joinGroup({
        groupId: req.groupId,
        memberId: req.memberId,
        groupInstanceId: v >= 5 ? req.groupInstanceId : null,
        requireKnownMemberId: v >= 4,
        supportSkippingAssignment: v >= 9,
        clientId: ctx.clientId ?? '',
        clientHost: clientHostOf(ctx),
        // v0 has no rebalance timeout: the session timeout stands for it.
        rebalanceTimeoutMs: v >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
        sessionTimeoutMs: req.sessionTimeoutMs,
        protocolType: req.protocolType,
        protocols: req.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      });
      return {
        throttleTimeMs: 0,
        errorCode: result.errorCode,
        generationId: result.generationId,
        protocolType: result.protocolType,
        // Before v7 the protocol name is not nullable.
        protocolName: v < 7 ? (result.protocolName ?? '') : result.protocolName,
        leader: result.leader,
        skipAssignment: result.skipAssignment,
        memberId: result.memberId,
        members: result.members,
      };
    },
  );
}
