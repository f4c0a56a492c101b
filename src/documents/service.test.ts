import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { dataPaths } from "../core/boot";
import type { JobQueue } from "../core/jobs";
import { createProject } from "../projects/service";
import { createTestApp, type TestApp } from "../../test/support/app";
import { dbKinds } from "../../test/support/db";
import { seedOrg, seedUser, startJobs, waitForJob } from "../../test/support/projects";
import { documents } from "./schema";
import {
  deleteDocument,
  ingestDocument,
  listDocuments,
  replaceDocument,
  retrieve,
  uploadDocument,
  vectorStore,
} from "./service";

const enc = (s: string) => new TextEncoder().encode(s);

for (const kind of dbKinds()) {
  describe(`documents [${kind}]`, () => {
    let t: TestApp;
    let jobs: JobQueue;
    let org: Awaited<ReturnType<typeof seedOrg>>;
    let a: string; // project A
    let b: string; // project B, same org

    beforeAll(async () => {
      t = await createTestApp(kind);
      jobs = await startJobs(t.ctx);
      org = await seedOrg(t.ctx.db);
      const owner = org.OWNER.principal;
      a = (await createProject(t.ctx, owner, org.org.id, { title: "Project A", repoType: "PRIVATE" })).id;
      b = (await createProject(t.ctx, owner, org.org.id, { title: "Project B", repoType: "PRIVATE" })).id;
    });
    afterAll(async () => {
      await jobs.stop();
      await vectorStore(t.ctx).close();
      await t.close();
    });

    const upload = async (projectId: string, name: string, text: string) => {
      const doc = await uploadDocument(t.ctx, org.SPONSOR.principal, projectId, { name, bytes: enc(text) });
      const [run] = await jobs.list({ name: "documents.ingest", limit: 1 });
      await waitForJob(jobs, run!.id);
      return doc;
    };

    test("an upload is stored encrypted, ingested, and found by retrieval in its project only", async () => {
      const doc = await upload(
        a,
        "design.md",
        "# Payments\n\nThe zanzibar settlement engine pays contributors every Friday.\n",
      );
      const [row] = await t.ctx.db.select().from(documents).where(eq(documents.id, doc.id));
      expect(row!.status).toBe("READY");
      expect(row!.type).toBe("MARKDOWN");
      expect(row!.chunkCount).toBeGreaterThan(0);
      const file = join(dataPaths(t.ctx.config.dataDir).uploads, row!.storageKey);
      expect(readFileSync(file, "utf8")).not.toContain("zanzibar"); // encrypted at rest
      // only the appliance's user may enter the uploads and the vector store (which holds the text in clear)
      for (const dir of [dataPaths(t.ctx.config.dataDir).uploads, dataPaths(t.ctx.config.dataDir).lancedb]) {
        expect(statSync(dir).mode & 0o777).toBe(0o700);
      }
      const inA = await retrieve(t.ctx, a, "when does zanzibar pay?");
      expect(inA.passages[0]?.text).toContain("zanzibar");
      expect(inA.passages[0]?.filename).toBe("design.md");
      expect(inA.method).toBe("fulltext");
      const inB = await retrieve(t.ctx, b, "when does zanzibar pay?");
      expect(inB.passages).toEqual([]);
    });

    test("no cross-project leakage: each project sees only its own passages", async () => {
      await upload(b, "b.txt", "Project B keeps its secret: the quokka protocol uses port 7777.");
      await upload(a, "a.txt", "Project A notes: the quokka protocol is not used here at all.");
      for (const q of ["quokka protocol port", "zanzibar settlement", "secret"]) {
        for (const p of (await retrieve(t.ctx, a, q)).passages) expect(p.projectId).toBe(a);
        for (const p of (await retrieve(t.ctx, b, q)).passages) expect(p.projectId).toBe(b);
      }
      const fromA = (await retrieve(t.ctx, a, "quokka port 7777")).passages.map((p) => p.text).join(" ");
      expect(fromA).not.toContain("7777");
      expect((await retrieve(t.ctx, b, "quokka port")).passages[0]!.text).toContain("7777");
    });

    test("replacing a document re-ingests it; the old text is gone", async () => {
      const doc = await upload(a, "plan.txt", "The old plan mentions the walrus milestone.");
      expect((await retrieve(t.ctx, a, "walrus")).passages.length).toBe(1);
      await replaceDocument(t.ctx, org.SPONSOR.principal, doc.id, {
        name: "plan.txt",
        bytes: enc("The new plan mentions the narwhal milestone."),
      });
      const [run] = await jobs.list({ name: "documents.ingest", limit: 1 });
      await waitForJob(jobs, run!.id);
      expect((await retrieve(t.ctx, a, "walrus")).passages).toEqual([]);
      expect((await retrieve(t.ctx, a, "narwhal")).passages[0]!.text).toContain("narwhal");
      const [row] = await t.ctx.db.select().from(documents).where(eq(documents.id, doc.id));
      expect(row!.version).toBe(2);
      expect(await vectorStore(t.ctx).count(a)).toBeGreaterThan(0);
    });

    test("deleting a document removes its vectors and its file", async () => {
      const doc = await upload(a, "gone.md", "# Gone\n\nThe ocelot clause will be deleted.");
      const before = await vectorStore(t.ctx).count(a);
      await deleteDocument(t.ctx, org.SPONSOR.principal, doc.id);
      expect(await vectorStore(t.ctx).count(a)).toBe(before - 1);
      expect((await retrieve(t.ctx, a, "ocelot clause")).passages).toEqual([]);
      const dir = join(dataPaths(t.ctx.config.dataDir).uploads, "documents", a);
      expect(readdirSync(dir).some((f) => f.startsWith(doc.id))).toBe(false);
    });

    test("type is checked by content, size is limited", async () => {
      const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      await expect(
        uploadDocument(t.ctx, org.SPONSOR.principal, a, { name: "notes.md", bytes: png }),
      ).rejects.toMatchObject({ code: "INVALID_INPUT" });
      const big = new Uint8Array(20 * 1024 * 1024 + 1).fill(65);
      await expect(
        uploadDocument(t.ctx, org.SPONSOR.principal, a, { name: "big.txt", bytes: big }),
      ).rejects.toMatchObject({ status: 413 });
    });

    test("authorization: contributors read, outsiders see nothing, only managers upload", async () => {
      expect((await listDocuments(t.ctx, org.CONTRIBUTOR.principal, a)).length).toBeGreaterThan(0);
      await expect(
        uploadDocument(t.ctx, org.CONTRIBUTOR.principal, a, { name: "x.txt", bytes: enc("hello there") }),
      ).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
      const outsider = await seedUser(t.ctx.db);
      await expect(listDocuments(t.ctx, outsider.principal, a)).rejects.toMatchObject({ code: "PROJECT_NOT_FOUND" });
      await expect(
        uploadDocument(t.ctx, outsider.principal, a, { name: "x.txt", bytes: enc("hello there") }),
      ).rejects.toMatchObject({
        code: "PROJECT_NOT_FOUND",
      });
    });

    test("ingesting a stale version is skipped; a re-run leaves no duplicates", async () => {
      const doc = await upload(b, "twice.txt", "The platypus section appears exactly once.");
      const n = await vectorStore(t.ctx).count(b);
      expect((await ingestDocument(t.ctx, doc.id, 1)).chunks).toBe(1);
      expect(await vectorStore(t.ctx).count(b)).toBe(n);
      expect((await ingestDocument(t.ctx, doc.id, 7)).skipped).toBe("replaced");
      expect(existsSync(dataPaths(t.ctx.config.dataDir).lancedb)).toBe(true);
    });
  });
}
