// notify() as other domains call it, the bell, and the notification API (spec §5.11).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { notify } from "./service";

for (const kind of dbKinds()) {
  describe(`notifications [${kind}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(kind);
    }, 60_000);
    afterAll(() => t.close());

    test("notify stores the notification and queues the e-mail unless the user turned e-mails off", async () => {
      const u = await createUser(t);
      await notify(t.ctx.db, u.id, {
        type: "PAYMENT",
        title: "You were paid",
        body: "0.5 ETH",
        link: "/projects/x",
        metadata: { amount: "0.5" },
      });
      const outbox = await t.ctx.database.exec<{ subject: string; link: string }>(
        "select subject, link from email_outbox where user_id = $1",
        [u.id],
      );
      expect(outbox).toEqual([{ subject: "You were paid", link: "/projects/x" }]);
      await u.request("PATCH", "/api/me", { body: { preferences: { emailNotifications: false } } });
      await notify(t.ctx.db, u.id, { type: "PAYMENT", title: "Paid again" });
      expect((await t.ctx.database.exec("select 1 from email_outbox where user_id = $1", [u.id])).length).toBe(1);
      const list = (await (await u.request("GET", "/api/notifications")).json()) as any;
      expect(list.unread).toBe(2);
      expect(list.items.map((n: any) => n.title)).toEqual(["Paid again", "You were paid"]);
    });

    test("links must stay on this site", async () => {
      const u = await createUser(t);
      for (const link of ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"]) {
        await expect(notify(t.ctx.db, u.id, { type: "X", title: "x", link })).rejects.toThrow();
      }
    });

    test("the bell counts unread; read, read-all; another user's notification is not found", async () => {
      const u = await createUser(t);
      const other = await createUser(t);
      const a = await notify(t.ctx.db, u.id, { type: "INVITE", title: "One", link: "/invites" });
      await notify(t.ctx.db, u.id, { type: "INVITE", title: "Two <b>bold</b>" });
      const bell = await (await u.request("GET", "/notifications/bell")).text();
      expect(bell).toContain('<span class="count"><span>2</span><span class="sr-only"> unread</span></span>');
      expect((await other.request("POST", `/api/notifications/${a.id}/read`)).status).toBe(404);
      expect((await u.request("POST", `/api/notifications/${a.id}/read`)).status).toBe(200);
      expect(
        ((await (await u.request("GET", "/api/notifications?unread=true")).json()) as any).items.map(
          (n: any) => n.title,
        ),
      ).toEqual(["Two <b>bold</b>"]);
      // From the page: opening a notification marks it read and follows its link.
      const page = await (await u.request("GET", "/notifications")).text();
      expect(page).toContain("Two &lt;b&gt;bold&lt;/b&gt;");
      const open = await u.request("POST", `/notifications/${a.id}/read`, {
        body: new URLSearchParams({ _csrf: u.csrf }),
      });
      expect(open.headers.get("location")).toBe("/invites");
      expect(((await (await u.request("POST", "/api/notifications/read-all")).json()) as any).updated).toBe(1);
      expect(await (await u.request("GET", "/notifications/bell")).text()).not.toContain("unread");
      expect((await t.request("GET", "/notifications/bell")).status).toBe(401);
    });
  });
}
