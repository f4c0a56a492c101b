import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import type { AppContext } from "../core/context";
import { httpContext } from "../core/http/plugin";
import { healthFor, instanceHealth } from "./service";
import { StatusPage } from "./views";

/** `GET /health` (JSON, 503 when the database is down) and the instance status page; details for admins only. */
export const statusRoutes = (ctx: AppContext) =>
  new Elysia({ name: "status" })
    .use(httpContext(ctx))
    .get(
      "/health",
      async ({ set, principal }) => {
        const [health, p] = await Promise.all([instanceHealth(ctx), principal()]);
        if (health.status === "down") set.status = 503;
        return healthFor(health, p);
      },
      { detail: { summary: "Instance health and component status", tags: ["meta"] } },
    )
    .get("/status", async ({ principal }) => {
      const [health, p] = await Promise.all([instanceHealth(ctx), principal()]);
      return html(
        <StatusPage
          health={healthFor(health, p)}
          name={ctx.settings.get("instance.name")}
          viewer={p ? { name: p.name, isAdmin: p.isAdmin } : null}
        />,
      );
    });
