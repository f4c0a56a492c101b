import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import type { AppContext } from "../core/context";
import { formError, pageProps } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { exploreTaskJson, exploreTasks } from "./service";
import { ExploreBoard } from "./views";

/** The query string as plain strings (the first value of each parameter), as the form typed them. */
function queryValues(query: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) {
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s === "string" && s !== "") out[k] = s;
  }
  return out;
}

/** The explore board: a public page and its JSON API, both open to signed-out visitors. */
export const exploreRoutes = (ctx: AppContext) =>
  new Elysia({ name: "explore" })
    .use(httpContext(ctx))
    .get(
      "/api/explore",
      async ({ query }) => {
        const board = await exploreTasks(ctx.db, queryValues(query));
        return {
          tasks: board.tasks.map(exploreTaskJson),
          total: board.total,
          page: board.page,
          pages: board.pages,
          pageSize: board.pageSize,
        };
      },
      {
        detail: {
          summary: "Funded open tasks of public projects (no sign-in needed)",
          description:
            "Query parameters, all optional: `language` (JavaScript, Python, Go, Rust, Java, Ruby), `minPoints`, " +
            "`maxPoints`, `minUsd`, `maxUsd` (payout in US dollars at the funding price), `token` (symbol), `repo` " +
            "(part of the repository or project name), `sort` (payout, points, newest; default payout) and `page` " +
            "(25 tasks a page). Each task carries its payout in base units (`payoutAmount`), in whole tokens " +
            "(`payout`) and in US dollars (`usd`, null when no priced deposit is recorded).",
          tags: ["explore"],
        },
      },
    )
    .get("/explore", async ({ query, principal }) => {
      const p = await principal();
      const props = p ? pageProps(p) : { viewer: null, csrf: undefined };
      const values = queryValues(query);
      try {
        const board = await exploreTasks(ctx.db, values);
        return html(<ExploreBoard {...props} board={board} values={values} tokens={board.tokens} />);
      } catch (err) {
        const form = formError(err, values);
        if (!form) throw err;
        const tokens = (await exploreTasks(ctx.db, {})).tokens;
        return html(<ExploreBoard {...props} board={null} values={values} errors={form.errors} tokens={tokens} />, 400);
      }
    });
