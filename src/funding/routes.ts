import { Elysia } from "elysia";
import { z } from "zod";
import type { AppContext } from "../core/context";
import { AppError } from "../core/errors";
import { formText, readForm, seeOther, withError, withFlash } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { confirmDeposit, createQuote, devChainDeposit } from "./service";

/**
 * Runs a funding form and sends the browser back to the overview; what the sponsor can act on (a short deposit,
 * an expired quote, no chain yet) comes back as the page's error message instead of an error page.
 */
async function fundingForm(request: Request, projectId: string, done: string, fn: () => Promise<unknown>) {
  const back = `/projects/${projectId}`;
  try {
    await fn();
  } catch (err) {
    // who may not see or fund the project gets the error page (404/403), as on every other route
    const actionable = err instanceof AppError && ([400, 409, 422].includes(err.status) || err.code === "UNAVAILABLE");
    if (!actionable) throw err;
    const d = err.details as { deposited?: string; required?: string; fields?: Record<string, string> };
    const extra = d.required ? ` Deposited ${d.deposited ?? "0"} of ${d.required} base units.` : "";
    const fields = d.fields ? ` ${Object.values(d.fields).join("; ")}` : "";
    return seeOther(request, withError(`${back}#funding`, `${err.message}${fields}${extra}`));
  }
  return seeOther(request, withFlash(`${back}#funding`, done, "funding"));
}

/** Funding API (spec §5.4): quote the deposit, then confirm it by transaction hash; and the overview's forms. */
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
    )
    // ---- forms of the project overview
    .post("/projects/:id/fund/quote", async ({ request, principal, params }) => {
      const p = await principal();
      return fundingForm(request, params.id, "quoted", () => createQuote(ctx, p, params.id));
    })
    .post("/projects/:id/fund", async ({ request, principal, params, body }) => {
      const p = await principal();
      const hash = formText(readForm(body), "depositTxHash").trim();
      return fundingForm(request, params.id, "funded", () => confirmDeposit(ctx, p, params.id, hash));
    })
    .post("/projects/:id/fund/dev-deposit", async ({ request, principal, params }) => {
      const p = await principal();
      return fundingForm(request, params.id, "funded", () => devChainDeposit(ctx, p, params.id));
    });
