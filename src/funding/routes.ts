import { Elysia } from "elysia";
import { z } from "zod";
import type { AppContext } from "../core/context";
import { httpContext } from "../core/http/plugin";
import { confirmDeposit, createQuote } from "./service";

/** Funding API (spec §5.4): quote the deposit, then confirm it by transaction hash. */
export const fundingRoutes = (ctx: AppContext) =>
  new Elysia({ name: "funding" })
    .use(httpContext(ctx))
    .post(
      "/api/projects/:id/fund/quote",
      async ({ principal, params }) => createQuote(ctx, await principal(), params.id),
      {
        detail: { summary: "Quote the deposit: Σ points × point rate ÷ token price, in base units", tags: ["funding"] },
      },
    )
    .post(
      "/api/projects/:id/fund",
      async ({ principal, params, body }) => confirmDeposit(ctx, await principal(), params.id, body.depositTxHash),
      {
        body: z.object({ depositTxHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a transaction hash") }),
        detail: {
          summary: "Confirm a deposit by transaction hash; activates the project when the quote is covered",
          tags: ["funding"],
        },
      },
    );
