import { DeleteGroupsRequest, DeleteGroupsResponse } from '../../protocol/generated/messages/delete-groups.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/** DeleteGroups v0–v2: deletes groups without members, with their committed offsets. */
export function deleteGroupsHandler(services: BrokerServices): ApiHandler<DeleteGroupsRequest, DeleteGroupsResponse> {
  return defineHandler(
    { request: DeleteGroupsRequest, response: DeleteGroupsResponse },
    { min: 0, max: 2 },
    async (req) => ({
      throttleTimeMs: 0,
      results: await services.groups.deleteGroups(req.groupsNames),
    }),
  );
}
