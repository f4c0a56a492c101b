import { Elysia } from "elysia";
import type { AppContext, Principal } from "../context";

const requestMeta = new WeakMap<Request, { id: string; start: number }>();

/** Request id and start time, set as the request arrives (also for requests that fail to parse). */
export function markRequest(request: Request, id: string) {
  requestMeta.set(request, { id, start: performance.now() });
}

export const getRequestMeta = (request: Request) => requestMeta.get(request);

/**
 * Per-request context every domain plugin uses: `requestId` and `principal()` (the caller, resolved once).
 * Named, so Elysia applies it once however many plugins `.use` it.
 */
export const httpContext = (ctx: AppContext) => {
  const principals = new WeakMap<Request, Promise<Principal | null>>();
  return new Elysia({ name: "http-context" }).derive({ as: "global" }, ({ request }) => ({
    requestId: requestMeta.get(request)?.id ?? "",
    principal: (): Promise<Principal | null> => {
      let p = principals.get(request);
      if (!p) {
        p = ctx.authenticate(request);
        principals.set(request, p);
      }
      return p;
    },
  }));
};
