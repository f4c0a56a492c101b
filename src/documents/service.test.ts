import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { dataPaths } from "../core/boot";
import type { AppContext } from "../core/context";
import { encrypt } from "../core/crypto";
import type { JobQueue } from "../core/jobs";
import { createProject } from "../projects/service";
import { createTestApp, type TestApp } from "../../test/support/app";
import { dbKinds } from "../../test/support/db";
import { seedOrg, seedUser, startJobs, waitForJob } from "../../test/support/projects";
import { documentChunks, documentFiles, documents } from "./schema";
import {
  backfillPassages,
  deleteDocument,
  ingestDocument,
  listDocuments,
  moveLegacyFiles,
  readDocumentBytes,
  reindexDocument,
  replaceDocument,
  retrieve,
  syncProjectIndex,
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
    let other: AppContext; // a second node: same database and master key, its own data dir and vector store

    beforeAll(async () => {
      t = await createTestApp(kind);
      jobs = await startJobs(t.ctx);
      org = await seedOrg(t.ctx.db);
      const owner = org.OWNER.principal;
      a = (await createProject(t.ctx, owner, org.org.id, { title: "Project A", repoType: "PRIVATE" })).id;
      b = (await createProject(t.ctx, owner, org.org.id, { title: "Project B", repoType: "PRIVATE" })).id;
      const dir = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), "docs-node-b-"));
      other = { ...t.ctx, config: { ...t.ctx.config, dataDir: dir }, vectors: undefined };
    });
    afterAll(async () => {
      await jobs.stop();
      await vectorStore(t.ctx).close();
      await vectorStore(other).close();
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
      expect(row!.storageKey).toBeNull(); // in the database, not on this node's disk
      // encrypted at rest: the file and its passages
      const files = await t.ctx.db.select().from(documentFiles).where(eq(documentFiles.documentId, doc.id));
      expect(files.length).toBe(1);
      expect(files[0]!.sealed).not.toContain("zanzibar");
      expect(Buffer.from(files[0]!.sealed.slice(3), "base64").toString("latin1")).not.toContain("zanzibar");
      const chunks = await t.ctx.db.select().from(documentChunks).where(eq(documentChunks.documentId, doc.id));
      expect(chunks.length).toBe(row!.chunkCount);
      for (const c of chunks)
        expect(Buffer.from(c.sealed.slice(3), "base64").toString("latin1")).not.toContain("zanzibar");
      expect((await readDocumentBytes(t.ctx, row!)).toString()).toContain("zanzibar settlement engine");
      const inA = await retrieve(t.ctx, a, "when does zanzibar pay?");
      // only the appliance's user may enter the vector store (which holds the text in clear)
      expect(statSync(dataPaths(t.ctx.config.dataDir).lancedb).mode & 0o777).toBe(0o700);
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
      await syncProjectIndex(t.ctx, a);
      const before = await vectorStore(t.ctx).count(a);
      expect((await retrieve(other, a, "ocelot clause")).passages.length).toBe(1);
      await deleteDocument(t.ctx, org.SPONSOR.principal, doc.id);
      expect(await vectorStore(t.ctx).count(a)).toBe(before - 1);
      expect((await retrieve(t.ctx, a, "ocelot clause")).passages).toEqual([]);
      expect(await t.ctx.db.select().from(documentFiles).where(eq(documentFiles.documentId, doc.id))).toEqual([]);
      expect(await t.ctx.db.select().from(documentChunks).where(eq(documentChunks.documentId, doc.id))).toEqual([]);
      // the other node drops its copy at its next search
      expect((await retrieve(other, a, "ocelot clause")).passages).toEqual([]);
      expect(await vectorStore(other).count(a)).toBe(before - 1);
    });

    test("a second node on the same database gives the same answers from its own vector store", async () => {
      for (const q of ["when does zanzibar pay?", "narwhal milestone", "walrus", "quokka protocol port"]) {
        const here = await retrieve(t.ctx, a, q);
        const there = await retrieve(other, a, q);
        expect(there.passages.map((p) => [p.documentId, p.chunkIndex, p.text])).toEqual(
          here.passages.map((p) => [p.documentId, p.chunkIndex, p.text]),
        );
      }
      expect((await retrieve(other, a, "narwhal")).passages[0]!.text).toContain("narwhal");
      expect(await vectorStore(other).count(a)).toBe(await vectorStore(t.ctx).count(a));
      // an upload through this node is found through the other one
      await upload(a, "late.txt", "The axolotl appendix arrived late.");
      expect((await retrieve(other, a, "axolotl appendix")).passages[0]!.text).toContain("axolotl");
      // a re-index of the same version replaces the other node's copy too (no duplicates)
      const [row] = await t.ctx.db.select().from(documents).where(eq(documents.filename, "late.txt"));
      const n = await vectorStore(other).count(a);
      await waitForJob(jobs, await reindexDocument(t.ctx, org.SPONSOR.principal, row!.id));
      expect((await retrieve(other, a, "axolotl appendix")).passages.length).toBe(1);
      expect(await vectorStore(other).count(a)).toBe(n);
    });

    test("a file left on disk from before is read through, moved into the database at start, and indexed", async () => {
      const id = crypto.randomUUID();
      const text = "The legacy capybara charter predates the database store.";
      const key = `documents/${b}/${id}.v1.enc`;
      const path = join(dataPaths(t.ctx.config.dataDir).uploads, key);
      mkdirSync(join(path, ".."), { recursive: true });
      writeFileSync(path, encrypt(t.ctx.masterKey, enc(text), `document:${id}:1`));
      const [row] = await t.ctx.db
        .insert(documents)
        .values({
          id,
          projectId: b,
          filename: "legacy.txt",
          type: "TEXT",
          sizeBytes: text.length,
          sha256: "0".repeat(64),
          storageKey: key,
          status: "READY",
          chunkCount: 1,
        })
        .returning();
      expect((await readDocumentBytes(t.ctx, row!)).toString()).toBe(text);
      // a node without the file cannot read it yet, and does not move anything
      await expect(readDocumentBytes(other, row!)).rejects.toThrow(/not stored/);
      expect(await moveLegacyFiles(other)).toBe(0);
      expect(await moveLegacyFiles(t.ctx)).toBe(1);
      expect(existsSync(path)).toBe(false);
      const [moved] = await t.ctx.db.select().from(documents).where(eq(documents.id, id));
      expect(moved!.storageKey).toBeNull();
      expect((await readDocumentBytes(other, moved!)).toString()).toBe(text);
      expect(await backfillPassages(t.ctx)).toBe(1);
      const [run] = await jobs.list({ name: "documents.ingest", limit: 1 });
      await waitForJob(jobs, run!.id);
      expect(await backfillPassages(t.ctx)).toBe(0);
      expect((await retrieve(other, b, "capybara charter")).passages[0]!.documentId).toBe(id);
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
      await syncProjectIndex(t.ctx, b);
      const n = await vectorStore(t.ctx).count(b);
      expect((await ingestDocument(t.ctx, doc.id, 1)).chunks).toBe(1);
      await syncProjectIndex(t.ctx, b);
      expect(await vectorStore(t.ctx).count(b)).toBe(n);
      expect((await retrieve(t.ctx, b, "platypus section")).passages.length).toBe(1);
      expect((await ingestDocument(t.ctx, doc.id, 7)).skipped).toBe("replaced");
      expect(existsSync(dataPaths(t.ctx.config.dataDir).lancedb)).toBe(true);
    });
  });
}
