// Retrieval, ingestion and the sidebar's first byte, on PGlite with LanceDB in a temp data dir.
//   1. 100,000 passages over 100 projects (hashing embedder): latency of retrieve() — full-text search filtered by
//      project plus the database check of each hit — and of a filtered vector search.  Target: p95 ≤ 50 ms.
//   2. Ingestion of one large Markdown document with the hashing embedder.           Target: ≥ 200 chunks/s.
//   3. Sidebar through a real HTTP server and a local model server: request → first streamed byte, and
//      request → first token minus the model's own first-token delay.                Target: ≤ 300 ms + model time.
// BENCH_CHUNKS (default 100000) and BENCH_QUERIES (default 300) change the sizes.
import { eq } from "drizzle-orm";
import { createSession } from "../src/auth/service";
import { setLogSink } from "../src/core/logger";
import { documents } from "../src/documents/schema";
import { hashEmbed } from "../src/documents/embedder";
import { ingestDocument, retrieve, vectorStore } from "../src/documents/service";
import type { ChunkRow } from "../src/documents/store";
import { orgMembers, orgs } from "../src/orgs/schema";
import { projects } from "../src/projects/schema";
import { users } from "../src/users/schema";
import { createTestApp } from "../test/support/app";
import { startModelServer } from "../test/support/model-server";
import { pct } from "./support";

setLogSink(() => {}, "error");
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 100_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 300);
const PROJECTS = 100;
const DOCS_PER_PROJECT = 10;

// A deterministic corpus: pseudo-words with a Zipf-like frequency, 60–120 words per passage.
let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const syllables = ["ka", "lo", "mi", "ra", "tu", "sen", "vor", "pel", "dri", "nax", "qua", "zel", "bo", "fi", "gra"];
const vocab = Array.from(
  { length: 6000 },
  (_, i) =>
    syllables[i % 15]! +
    syllables[Math.floor(i / 15) % 15]! +
    syllables[Math.floor(i / 225) % 15]! +
    (i >= 3375 ? "s" : ""),
);
const word = () => vocab[Math.min(vocab.length - 1, Math.floor(vocab.length * rand() ** 3))]!;
const passage = () => Array.from({ length: 60 + Math.floor(rand() * 60) }, word).join(" ");

const ms = (x: number) => `${x.toFixed(1)} ms`;
const summary = (label: string, xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  console.log(
    `${label.padEnd(58)} p50 ${ms(pct(s, 50)).padStart(9)}   p95 ${ms(pct(s, 95)).padStart(9)}   p99 ${ms(pct(s, 99)).padStart(9)}`,
  );
  return pct(s, 95);
};

const t = await createTestApp("pglite");
const { ctx } = t;
const [owner] = await ctx.db
  .insert(users)
  .values({ name: "Bench", email: "bench@example.test", isAdmin: true, onboardedAt: new Date() })
  .returning();
const [org] = await ctx.db.insert(orgs).values({ name: "Bench" }).returning();
await ctx.db.insert(orgMembers).values({ orgId: org!.id, userId: owner!.id, role: "OWNER" });
const projectRows = await ctx.db
  .insert(projects)
  .values(
    Array.from({ length: PROJECTS }, (_, i) => ({
      orgId: org!.id,
      title: `Project ${i}`,
      repoVisibility: "PRIVATE" as const,
    })),
  )
  .returning({ id: projects.id });
const docRows = await ctx.db
  .insert(documents)
  .values(
    projectRows.flatMap((p, i) =>
      Array.from({ length: DOCS_PER_PROJECT }, (_, j) => ({
        projectId: p.id,
        filename: `doc-${i}-${j}.md`,
        type: "MARKDOWN" as const,
        sizeBytes: 1,
        sha256: "0",
        storageKey: "none",
        status: "READY" as const,
      })),
    ),
  )
  .returning({ id: documents.id, projectId: documents.projectId });

// ---- 1. load 100k passages, then query
console.log(
  `\n1. retrieval over ${CHUNKS.toLocaleString("en")} passages in ${PROJECTS} projects (hashing embedder, 256 dimensions)`,
);
const store = vectorStore(ctx);
const perDoc = Math.ceil(CHUNKS / docRows.length);
const samples = new Map<string, string[]>();
let loaded = 0;
const tLoad = performance.now();
let embedMs = 0;
for (let d = 0; d < docRows.length && loaded < CHUNKS; d += 100) {
  const batch: ChunkRow[] = [];
  for (const doc of docRows.slice(d, d + 100)) {
    for (let c = 0; c < perDoc && loaded + batch.length < CHUNKS; c++) {
      const text = passage();
      const e0 = performance.now();
      const vector = hashEmbed(text);
      embedMs += performance.now() - e0;
      batch.push({
        id: `${doc.id}:1:${c}`,
        project_id: doc.projectId,
        document_id: doc.id,
        document_version: 1,
        filename: "x.md",
        chunk_index: c,
        page: null,
        heading: null,
        text,
        vector,
      });
      if (c === 0) samples.set(doc.projectId, [...(samples.get(doc.projectId) ?? []), text]);
    }
  }
  await store.add("hash256", batch);
  loaded += batch.length;
}
const loadS = (performance.now() - tLoad) / 1000;
console.log(
  `bulk load: ${loaded.toLocaleString("en")} passages in ${loadS.toFixed(1)} s (${Math.round(loaded / loadS)} /s; hashing ${Math.round(embedMs)} ms of it)`,
);

const queries = Array.from({ length: QUERIES }, (_, i) => {
  const projectId = projectRows[i % PROJECTS]!.id;
  const words = samples.get(projectId)![i % DOCS_PER_PROJECT]!.split(" ");
  const at = Math.floor(rand() * (words.length - 3));
  return { projectId, q: words.slice(at, at + 3).join(" ") };
});
for (const { projectId, q } of queries.slice(0, 20)) await retrieve(ctx, projectId, q); // warm-up
const full: number[] = [];
const vec: number[] = [];
let hits = 0;
for (const { projectId, q } of queries) {
  const a = performance.now();
  const r = await retrieve(ctx, projectId, q, { k: 6 });
  full.push(performance.now() - a);
  if (r.passages.some((p) => p.projectId !== projectId)) throw new Error("a passage of another project was returned");
  hits += r.passages.length ? 1 : 0;
  const b = performance.now();
  await store.searchVector("hash256", projectId, hashEmbed(q), 6);
  vec.push(performance.now() - b);
}
const p95 = summary("retrieve() full-text + database check", full);
summary("vector search (filtered by project)", vec);
console.log(`queries with results: ${hits}/${QUERIES}; target p95 ≤ 50 ms: ${p95 <= 50 ? "met" : "NOT met"}`);

// ---- 2. ingestion
console.log("\n2. ingestion with the hashing embedder");
const sections = Array.from(
  { length: 400 },
  (_, i) => `## Section ${i}\n\n${passage()}\n\n${passage()}\n\n${passage()}\n\n${passage()}`,
);
const markdown = `# Large document\n\n${sections.join("\n\n")}\n`;
const { uploadDocument } = await import("../src/documents/service");
const principal = { userId: owner!.id, name: "Bench", isAdmin: true, via: "session" as const };
const doc = await uploadDocument(ctx, principal, projectRows[0]!.id, {
  name: "large.md",
  bytes: new TextEncoder().encode(markdown),
});
const tIngest = performance.now();
const result = await ingestDocument(ctx, doc.id, 1);
const ingestS = (performance.now() - tIngest) / 1000;
const rate = result.chunks / ingestS;
console.log(
  `${(markdown.length / 1024).toFixed(0)} KB Markdown → ${result.chunks} passages in ${ingestS.toFixed(2)} s: ${Math.round(rate)} chunks/s (into a table of ${loaded.toLocaleString("en")}); target ≥ 200: ${rate >= 200 ? "met" : "NOT met"}`,
);
const [row] = await ctx.db.select({ status: documents.status }).from(documents).where(eq(documents.id, doc.id));
if (row?.status !== "READY") throw new Error(`ingestion left the document ${row?.status}`);

// ---- 3. sidebar first byte
console.log("\n3. sidebar: request → first byte / first token, over HTTP (sequential requests)");
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (r) => t.app.handle(r) });
const models = startModelServer();
await ctx.settings.update({ "ai.sidebarPerMinute": 600 }, null);
const session = await createSession(ctx.db, owner!.id);
const headers = {
  cookie: `ds_session=${session.token}`,
  "x-csrf-token": session.csrfToken,
  "content-type": "application/json",
};
async function once(projectId: string, message: string) {
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${server.port}/api/ai/sidebar`, {
    method: "POST",
    headers,
    body: JSON.stringify({ message, projectId }),
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let first = 0;
  let firstToken = 0;
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    first ||= performance.now() - t0;
    buf += decoder.decode(value, { stream: true });
    if (!firstToken && buf.includes("event: token")) firstToken = performance.now() - t0;
  }
  if (!firstToken) throw new Error(`no token in: ${buf.slice(0, 300)}`);
  return { first, firstToken };
}
const N = 40;
for (const [label, provider, delayMs] of [
  ["no model (retrieval answer)", "none", 0],
  ["ollama wire format, model first token 0 ms", "ollama", 0],
  ["ollama wire format, model first token 200 ms", "ollama", 200],
  ["OpenAI-compatible, model first token 200 ms", "openai-compatible", 200],
] as const) {
  await ctx.settings.update({ "ai.provider": provider, "ai.baseUrl": models.url, "ai.chatModel": "llama3.1" }, null);
  models.fallback = { content: "The passages say so [1].", delayMs };
  const firsts: number[] = [];
  const tokens: number[] = [];
  for (let i = 0; i < N + 3; i++) {
    const { projectId, q } = queries[i % queries.length]!;
    const r = await once(projectId, q);
    if (i < 3) continue; // warm-up
    firsts.push(r.first);
    tokens.push(r.firstToken - delayMs);
  }
  summary(`${label}: first byte`, firsts);
  const p = summary(`${label}: first token − model time`, tokens);
  console.log(`  target ≤ 300 ms + model time: ${p <= 300 ? "met" : "NOT met"}`);
}

server.stop(true);
await models.stop();
await store.close();
await t.close();
