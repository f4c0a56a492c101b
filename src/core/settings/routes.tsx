import { Elysia } from "elysia";
import { z } from "zod";
import { html } from "../../../ui/layout";
import { type AppContext, requireAdmin } from "../context";
import { AppError } from "../errors";
import { signedIn } from "../http/form";
import { httpContext } from "../http/plugin";
import { audit } from "../../audit/service";
import { parseSettingText, settingKind } from "./registry";
import { isSettingKey } from "./service";
import { SettingsPage } from "./views";

/** Converts form strings to the types the settings' schemas expect (numbers, booleans, comma lists, text). */
export function formToPatch(form: Record<string, unknown>): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(form)) {
    if (!isSettingKey(key) || typeof raw !== "string") continue;
    patch[key] = settingKind(key) === "text" ? raw.trim() : parseSettingText(key, raw);
  }
  return patch;
}

/** The text fields of a settings form as typed, emptied ones included (an emptied field must stay empty). */
const typedValues = (body: unknown): Record<string, string> =>
  Object.fromEntries(
    Object.entries((body ?? {}) as Record<string, unknown>).filter(
      (e): e is [string, string] => e[0] !== "_csrf" && typeof e[1] === "string",
    ),
  );

/** Logs and audits which settings an admin changed (names only: values may be secrets). */
async function recordChange(ctx: AppContext, userId: string, keys: string[]) {
  ctx.log.info("settings changed", { by: userId, keys });
  if (keys.length) {
    await audit(ctx.db, {
      actorId: userId,
      action: "settings.update",
      targetType: "settings",
      targetId: null,
      payload: { keys },
    });
  }
}

/** Admin settings: JSON API and the settings page (admins only; the service enforces it too). */
export const settingsRoutes = (ctx: AppContext) =>
  new Elysia({ name: "settings" })
    .use(httpContext(ctx))
    .get(
      "/api/settings",
      async ({ principal }) => {
        requireAdmin(await principal());
        return { settings: ctx.settings.list() };
      },
      { detail: { summary: "List settings (secrets redacted)", tags: ["admin"] } },
    )
    .patch(
      "/api/settings",
      async ({ principal, body }) => {
        const p = requireAdmin(await principal());
        const changed = await ctx.settings.update(body, p.userId);
        await recordChange(ctx, p.userId, changed);
        return { changed, settings: ctx.settings.list() };
      },
      {
        body: z.record(z.string(), z.unknown()),
        detail: { summary: "Change settings; null resets to the default", tags: ["admin"] },
      },
    )
    .get("/admin/settings", async ({ request, principal }) => {
      const signedInCaller = await signedIn(request, principal);
      if (signedInCaller instanceof Response) return signedInCaller;
      const p = requireAdmin(signedInCaller);
      return html(<SettingsPage items={ctx.settings.list()} viewer={p} csrfToken={p.csrfToken} />);
    })
    .post("/admin/settings", async ({ principal, body }) => {
      const p = requireAdmin(await principal());
      const patch = formToPatch((body ?? {}) as Record<string, unknown>);
      // Env-controlled settings are shown disabled and never posted; keep it that way if someone posts them.
      for (const s of ctx.settings.list()) if (s.source === "env") delete patch[s.key];
      try {
        const changed = await ctx.settings.update(patch, p.userId);
        await recordChange(ctx, p.userId, changed);
        return html(
          <SettingsPage
            items={ctx.settings.list()}
            viewer={p}
            csrfToken={p.csrfToken}
            flash={{ kind: "success", message: "Settings saved." }}
          />,
        );
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== "INVALID_INPUT") throw err;
        return html(
          <SettingsPage
            items={ctx.settings.list()}
            viewer={p}
            csrfToken={p.csrfToken}
            errors={err.details.fields as Record<string, string>}
            values={typedValues(body)}
          />,
          400,
          { "cache-control": "no-store" },
        );
      }
    });
