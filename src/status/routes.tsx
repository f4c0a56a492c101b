import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import type { AppContext } from "../core/context";
import { httpContext } from "../core/http/plugin";
import { instanceHealth } from "./service";
import { StatusPage } from "./views";

/** `GET /health` (JSON, 503 when the database is down) and the instance status page. */
export const statusRoutes = (ctx: AppContext) =>
  new Elysia({ name: "status" })
    .use(httpContext(ctx))
    .get(
      "/health",
      async ({ set }) => {
        const health = await instanceHealth(ctx);
        if (health.status === "down") set.status = 503;
        return health;
      },
      { detail: { summary: "Instance health and component status", tags: ["meta"] } },
    )
    .get("/status", async ({ principal }) => {
      const [health, p] = await Promise.all([instanceHealth(ctx), principal()]);
      return html(
        <StatusPage
          health={health}
          name={ctx.settings.get("instance.name")}
          viewer={p ? { name: p.name, isAdmin: p.isAdmin } : null}
        />,
      );
    });
