import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { z } from "zod";
import { burnDownChart, type Movement, payoutsChart, taskStatesChart } from "../charts/funding";
import type { AppContext, Principal } from "../core/context";
import { AppError } from "../core/errors";
import {
  type FormValues,
  formText,
  pageProps,
  readFlash,
  readForm,
  seeOther,
  signedIn,
  withError,
  withFlash,
} from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { projectRights } from "../projects/service";
import { closeAndRefund, requestClose, setExpiry } from "./lifecycle";
import { type FundingOverview, fundingOverview, raiseTaskPoints } from "./overview";
import { confirmDeposit, createQuote, devChainDeposit } from "./service";
import { FUNDING_TAB_FLASH, FundingTabPage } from "./views";
import { walletPlan } from "./wallet";
import { harvestNow, setYieldMode } from "./yield";

/**
 * Runs a funding form and sends the browser back to the overview (or the funding tab with `?back=funding`); what
 * the sponsor can act on (a short deposit, an expired quote, no chain yet, a pending delay) comes back as the
 * page's error message instead of an error page.
 */
async function fundingForm(request: Request, projectId: string, done: string, fn: () => Promise<unknown>) {
  const tab = new URL(request.url).searchParams.get("back") === "funding";
  const back = tab ? `/projects/${projectId}/funding` : `/projects/${projectId}`;
  const anchor = tab ? "" : "#funding";
  let flash = done;
  try {
    const r = await fn();
    if (done === "harvested" && r === null) flash = "no-yield";
  } catch (err) {
    // who may not see or fund the project gets the error page (404/403), as on every other route
    const actionable = err instanceof AppError && ([400, 409, 422].includes(err.status) || err.code === "UNAVAILABLE");
    if (!actionable) throw err;
    const d = err.details as { deposited?: string; required?: string; fields?: Record<string, string> };
    const extra = d.required ? ` Deposited ${d.deposited ?? "0"} of ${d.required} base units.` : "";
    const fields = d.fields ? ` ${Object.values(d.fields).join("; ")}` : "";
    return seeOther(request, withError(`${back}${anchor}`, `${err.message}${fields}${extra}`));
  }
  return seeOther(request, withFlash(`${back}${anchor}`, flash, "funding"));
}

/** The funding tab's amounts as JSON (bigints as decimal strings). */
function overviewJson(d: FundingOverview) {
  const s = (v: bigint) => v.toString();
  return {
    projectId: d.project.id,
    state: d.project.state,
    mode: d.project.fundingMode,
    amounts: Object.fromEntries(Object.entries(d.amounts).map(([k, v]) => [k, s(v)])),
    claimsStopped: d.stopped,
    expiresAt: d.row.expiresAt?.toISOString() ?? null,
    close: {
      requestedAt: d.row.closeRequestedAt?.toISOString() ?? null,
      closableAt: d.row.closableAt?.toISOString() ?? null,
      requestTx: d.row.closeRequestTx,
      closedAt: d.row.closedAt?.toISOString() ?? null,
      refund: d.row.refundAmount,
      refundTx: d.row.refundTx,
      closable: d.closable,
      expired: d.expired,
    },
    deposits: d.deposits.map((r) => ({ amount: r.amount, txHash: r.depositTxHash, at: r.createdAt.toISOString() })),
    releases: d.releases.map((r) => ({
      taskId: r.taskId,
      amount: s(r.amount),
      fee: s(r.fee),
      txHash: r.txHash,
      at: r.at?.toISOString() ?? null,
    })),
    topUp: d.topUp,
    yield: {
      available: d.yield.available,
      vault: d.yield.vault,
      pending: s(d.yield.pending),
      totals: Object.fromEntries(Object.entries(d.yield.totals).map(([k, v]) => [k, s(v)])),
      harvests: d.yield.harvests.map((h) => ({
        yieldAmount: h.yieldAmount,
        fee: h.fee,
        sponsorShare: h.sponsorShare,
        txHash: h.txHash,
        at: h.createdAt.toISOString(),
      })),
    },
    taskStates: d.taskStates,
  };
}

/** The three charts of the funding tab. */
function fundingCharts(d: FundingOverview) {
  const unit = d.project.tokenSymbol ?? (d.project.tokenAddress ? "tokens" : "ETH");
  const dec = d.project.tokenDecimals;
  const moves: Movement[] = [
    ...d.deposits.map((r) => ({ at: r.createdAt, delta: BigInt(r.amount) })),
    ...d.releases.filter((r) => r.at).map((r) => ({ at: r.at!, delta: -r.amount })),
    ...(d.row.closedAt ? [{ at: d.row.closedAt, delta: -BigInt(d.row.refundAmount ?? "0") }] : []),
  ];
  return {
    burnDown: burnDownChart(moves, dec, unit),
    payouts: payoutsChart(
      d.releases.filter((r) => r.at).map((r) => ({ at: r.at!, amount: r.amount })),
      dec,
      unit,
    ),
    taskStates: taskStatesChart(d.taskStates),
  };
}

const txHash = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be a transaction hash")
  .optional();
const optionalHash = (f: FormValues) => formText(f, "txHash").trim() || undefined;

/** Funding API (spec §5.4) and the funding forms of the overview and the funding tab. */
export const fundingRoutes = (ctx: AppContext) =>
  new Elysia({ name: "funding" })
    .use(httpContext(ctx))
    .post(
      "/api/projects/:id/fund/quote",
      async ({ principal, params, body }) => createQuote(ctx, await principal(), params.id, { wallet: body?.wallet }),
      {
        body: z
          .object({
            wallet: z
              .string()
              .regex(/^0x[0-9a-fA-F]{40}$/, "must be an EVM address")
              .optional(),
          })
          .optional(),
        detail: {
          summary: "Quote the deposit (Σ points × point rate ÷ token price) or, once funded, the top-up difference",
          tags: ["funding"],
        },
      },
    )
    .post(
      "/api/projects/:id/fund",
      async ({ principal, params, body }) => confirmDeposit(ctx, await principal(), params.id, body.depositTxHash),
      {
        body: z.object({ depositTxHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a transaction hash") }),
        detail: {
          summary: "Confirm a deposit or top-up by transaction hash; activates the project when the quote is covered",
          tags: ["funding"],
        },
      },
    )
    .get(
      "/api/projects/:id/fund/wallet",
      async ({ principal, params, query, request }) =>
        walletPlan(ctx, await principal(), params.id, {
          account: query.account || undefined,
          origin: new URL(request.url).origin,
        }),
      {
        query: z.object({ account: z.string().optional() }),
        detail: {
          summary:
            "The transactions a browser wallet sends to fund the latest quote: an ERC-20 approve when the allowance is short, then the escrow deposit, with the chain to switch to",
          tags: ["funding"],
        },
      },
    )
    .get(
      "/api/projects/:id/funding",
      async ({ principal, params }) => overviewJson(await fundingOverview(ctx, await principal(), params.id)),
      {
        detail: {
          summary: "Deposited, released, remaining and refundable amounts with their transactions",
          tags: ["funding"],
        },
      },
    )
    .post(
      "/api/projects/:id/fund/close-request",
      async ({ principal, params, body }) => requestClose(ctx, await principal(), params.id, body?.txHash),
      {
        body: z.object({ txHash }).optional(),
        detail: {
          summary: "Record the sponsor's requestClose (by hash; on the dev chain the appliance sends it): claims stop",
          tags: ["funding"],
        },
      },
    )
    .post(
      "/api/projects/:id/fund/close",
      async ({ principal, params }) => closeAndRefund(ctx, await principal(), params.id),
      {
        detail: {
          summary: "Close and refund the unspent funds to the sponsor (after the withdrawal delay, or after expiry)",
          tags: ["funding"],
        },
      },
    )
    .post(
      "/api/projects/:id/fund/expiry",
      async ({ principal, params, body }) =>
        setExpiry(ctx, await principal(), params.id, body.expiresAt ? new Date(body.expiresAt) : null),
      {
        body: z.object({ expiresAt: z.string().datetime({ offset: true }).nullable() }),
        detail: {
          summary: "Set or clear the expiry date (claims stop and the funds become refundable after it)",
          tags: ["funding"],
        },
      },
    )
    .post(
      "/api/projects/:id/fund/mode",
      async ({ principal, params, body }) => setYieldMode(ctx, await principal(), params.id, body.mode, body.txHash),
      {
        body: z.object({ mode: z.enum(["ESCROW", "YIELD"]), txHash }),
        detail: {
          summary: "Switch between escrow and yield mode (setMode; ERC-20 with a vault only)",
          tags: ["funding"],
        },
      },
    )
    .post(
      "/api/projects/:id/fund/harvest",
      async ({ principal, params }) => ({ harvest: await harvestNow(ctx, await principal(), params.id) }),
      {
        detail: {
          summary: "Harvest the project's yield now (fee to the treasury, the rest to the sponsor)",
          tags: ["funding"],
        },
      },
    )
    .post(
      "/api/tasks/:id/points",
      async ({ principal, params, body }) => raiseTaskPoints(ctx, await principal(), params.id, body.points),
      {
        body: z.object({ points: z.number().int() }),
        detail: {
          summary: "Raise an open task's points on a funded project (paid for by the next top-up)",
          tags: ["funding"],
        },
      },
    )
    // ---- the funding tab
    .get("/projects/:id/funding", async ({ request, principal, params }) => {
      const p = await signedIn(request, principal);
      if (p instanceof Response) return p;
      const data = await fundingOverview(ctx, p, params.id);
      const rights = await projectRights(ctx.db, p, data.project);
      return html(
        <FundingTabPage
          {...pageProps(p)}
          flash={readFlash(request, FUNDING_TAB_FLASH, { param: "funding", errors: true })}
          canAudit={rights.canAudit}
          data={data}
          charts={fundingCharts(data)}
        />,
      );
    })
    // ---- forms of the project overview and the funding tab
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
    })
    .post("/projects/:id/fund/close-request", async ({ request, principal, params, body }) => {
      const p = await principal();
      const hash = optionalHash(readForm(body));
      return tabForm(request, params.id, "close-requested", () => requestClose(ctx, p, params.id, hash));
    })
    .post("/projects/:id/fund/close", async ({ request, principal, params }) => {
      const p = await principal();
      return tabForm(request, params.id, "closed", () => closeAndRefund(ctx, p, params.id));
    })
    .post("/projects/:id/fund/expiry", async ({ request, principal, params, body }) => {
      const p = await principal();
      const value = formText(readForm(body), "expiresAt").trim();
      // a date without a time is the end of that day, UTC
      const at = value ? new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T23:59:59Z` : value) : null;
      return tabForm(request, params.id, "expiry", () => setExpiry(ctx, p, params.id, at));
    })
    .post("/projects/:id/fund/mode", async ({ request, principal, params, body }) => {
      const p = await principal();
      const f = readForm(body);
      const mode = formText(f, "mode") === "YIELD" ? "YIELD" : "ESCROW";
      return tabForm(request, params.id, "mode", () => setYieldMode(ctx, p, params.id, mode, optionalHash(f)));
    })
    .post("/projects/:id/fund/harvest", async ({ request, principal, params }) => {
      const p = await principal();
      return tabForm(request, params.id, "harvested", () => harvestNow(ctx, p, params.id));
    })
    .post("/tasks/:id/points", async ({ request, principal, params, body }) => {
      const p = (await principal()) as Principal | null;
      const points = Number(formText(readForm(body), "points"));
      // the task's project is only known once the service has checked who may see it
      let projectId: string | undefined;
      const run = async () => {
        const r = await raiseTaskPoints(ctx, p, params.id, points);
        projectId = r.projectId;
        return r;
      };
      try {
        await run();
      } catch (err) {
        if (!(err instanceof AppError) || ![400, 409, 422].includes(err.status)) throw err;
        const back = request.headers.get("referer");
        const to = back && new URL(back).pathname.startsWith("/projects/") ? new URL(back).pathname : "/";
        const fields = (err.details as { fields?: Record<string, string> }).fields;
        return seeOther(
          request,
          withError(to, `${err.message}${fields ? ` ${Object.values(fields).join("; ")}` : ""}`),
        );
      }
      return seeOther(request, withFlash(`/projects/${projectId}/funding`, "points", "funding"));
    });

/** A form of the funding tab: back to the tab with its flash or the error. */
function tabForm(request: Request, projectId: string, done: string, fn: () => Promise<unknown>) {
  const url = new URL(request.url);
  url.searchParams.set("back", "funding");
  return fundingForm(new Request(url, request), projectId, done, fn);
}
