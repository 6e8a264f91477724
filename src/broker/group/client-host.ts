import type { RequestContext } from '../handler.ts';

/** The client host as Kafka reports it in group descriptions (`/` + address). */
export function clientHostOf(ctx: RequestContext): string {
  return `/${ctx.connection.remoteAddress}`;
}
