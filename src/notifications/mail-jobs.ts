// The mail worker as the appliance runs it: started and stopped with the other background work, a `mail.deliver`
// job (run by a cron entry as a safety net, and by an admin's "run now") and the `mail` status entry.
import type { AppContext } from "../core/context";
import { type DrainResult, describeOutbox, MailWorker, outboxSummary, smtpSettings } from "./mail";
import type { MailSite } from "./templates/mail";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** The public origin links in e-mails point to: the admin's setting, the configured URL, else the listener. */
export function mailSite(ctx: AppContext): MailSite {
  const configured = ctx.settings.get("instance.publicUrl") || ctx.config.publicUrl;
  let baseUrl: string;
  if (configured) baseUrl = configured.replace(/\/+$/, "");
  else {
    const host = ["0.0.0.0", "::", ""].includes(ctx.config.host) ? "localhost" : ctx.config.host;
    baseUrl = `http://${host}:${ctx.config.port}`;
  }
  return { name: ctx.settings.get("instance.name"), baseUrl };
}

/** Registers the mail worker, its job and cron entry, and its status entry. */
export async function setupMail(ctx: AppContext, on: On) {
  const worker = new MailWorker({
    database: ctx.database,
    smtp: () => smtpSettings(ctx.settings),
    site: () => mailSite(ctx),
    log: ctx.log.child({ component: "mail" }),
  });
  ctx.jobs.define("mail.deliver", (): Promise<DrainResult> => worker.drain(), { maxAttempts: 1 });
  ctx.cron.register("mail.deliver", "0 */5 * * * *", "mail.deliver");
  ctx.health.set("mail", async () => {
    const configured = !!smtpSettings(ctx.settings);
    const s = await outboxSummary(ctx.database, configured);
    return { status: "ok", detail: describeOutbox(s), waiting: s.pending + s.sending, failed: s.failed };
  });
  on.start(() => worker.start());
  on.stop(() => worker.stop());
  return worker;
}
