import { ListGroupsRequest, ListGroupsResponse } from '../../protocol/generated/messages/list-groups.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/** ListGroups v0–v5: every group, filtered by state (v4+) and type (v5+), case-insensitively. */
export function listGroupsHandler(services: BrokerServices): ApiHandler<ListGroupsRequest, ListGroupsResponse> {
  return defineHandler({ request: ListGroupsRequest, response: ListGroupsResponse }, { min: 0, max: 5 }, (req, ctx) => {
    const v = ctx.apiVersion;
    const result = services.groups.listGroups(v >= 4 ? req.statesFilter : [], v >= 5 ? req.typesFilter : []);
    return { throttleTimeMs: 0, errorCode: result.errorCode, groups: result.groups };
  });
}
