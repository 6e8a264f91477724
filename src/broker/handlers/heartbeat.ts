import { HeartbeatRequest, HeartbeatResponse } from '../../protocol/generated/messages/heartbeat.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/** Heartbeat v0–v4 (classic groups): keeps the session; REBALANCE_IN_PROGRESS asks the member to rejoin. */
export function heartbeatHandler(services: BrokerServices): ApiHandler<HeartbeatRequest, HeartbeatResponse> {
  return defineHandler(
    { request: HeartbeatRequest, response: HeartbeatResponse },
    { min: 0, max: 4 },
    async (req, ctx) => {
      const errorCode = await services.groups.heartbeat({
        groupId: req.groupId,
        generationId: req.generationId,
        memberId: req.memberId,
        groupInstanceId: ctx.apiVersion >= 3 ? req.groupInstanceId : null,
      });
      return { throttleTimeMs: 0, errorCode };
    },
  );
}
