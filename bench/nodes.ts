// Several nodes on one PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL): appliance processes A (--role web),
// B (--role worker) and C (--role web) share the database. Each sample uploads a document through A (its ingestion
// is enqueued there and run by B) and polls C's search API every 20 ms until the document is found: the latency
// from the upload's request to the first answer of C that holds it. Small documents (one passage) and larger ones
// (~200 KB of text, ~250 passages). Target: ≤ 5 s. BENCH_NODE_SAMPLES sets the number of small samples (default 20).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApiKey } from "../src/auth/service";
import { openDatabase } from "../src/core/db";
import { createEmptyPostgres } from "../test/support/db";
import { seedOrg } from "../test/support/projects";
import { type ServerProcess, startServerProcess } from "../test/support/server-process";
import { pct } from "./support";

const SAMPLES = Number(process.env.BENCH_NODE_SAMPLES ?? 20);
const LARGE_SAMPLES = 3;
const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (!url) throw new Error("bench/nodes.ts needs PostgreSQL: set BENCH_DATABASE_URL or TEST_DATABASE_URL");
process.env.TEST_DATABASE_URL = url; // createEmptyPostgres reads it

const pg = await createEmptyPostgres();
const dir = mkdtempSync(join(tmpdir(), "bench-nodes-"));
const servers: ServerProcess[] = [];
const start = async (name: string, role: string) => {
  const s = await startServerProcess({
    dataDir: join(dir, name),
    args: ["--role", role],
    env: {
      DATABASE_URL: pg.url,
      DEVSPONSOR_MASTER_KEY: "77".repeat(32),
      DEVSPONSOR_AI_PROVIDER: "none",
      LOG_LEVEL: "warn",
    },
  });
  servers.push(s);
  return s;
};

try {
  const a = await start("a", "web");
  const db = await openDatabase({ url: pg.url, max: 2 });
  const org = await seedOrg(db.db, "Bench");
  const { key } = await createApiKey(db.db, org.OWNER.id, { name: "bench", scopes: ["read", "write"] });
  await db.close();
  const headers = { authorization: `Bearer ${key}` };
  const created = await fetch(`${a.base}/api/orgs/${org.org.id}/projects`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ title: "Bench" }),
  });
  const projectId = ((await created.json()) as { id: string }).id;
  await start("b", "worker");
  const c = await start("c", "web");

  /** Uploads through A; returns the ms until C's search returns the document. */
  const sample = async (word: string, text: string) => {
    const form = new FormData();
    form.append("file", new File([text], `${word}.txt`, { type: "text/plain" }));
    const t0 = performance.now();
    const res = await fetch(`${a.base}/api/projects/${projectId}/documents`, { method: "POST", headers, body: form });
    if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
    const { id } = (await res.json()) as { id: string };
    for (;;) {
      const r = await fetch(`${c.base}/api/projects/${projectId}/search?q=${word}`, { headers });
      const { passages } = (await r.json()) as { passages: { documentId: string }[] };
      if (passages.some((p) => p.documentId === id)) return performance.now() - t0;
      if (performance.now() - t0 > 60_000) throw new Error(`document ${word} not found through C after 60 s`);
      await Bun.sleep(20);
    }
  };
  const word = (i: number) => `zq${i.toString(36)}marker${Math.random().toString(36).slice(2, 8)}`;
  const filler = (n: number) =>
    Array.from({ length: n }, (_, i) => `Paragraph ${i}: the committee reviewed item ${i} and its budget.`).join(
      "\n\n",
    );

  const w0 = word(0);
  await sample(w0, `Warm-up document ${w0}.`); // the first search on C loads its vector store
  const small: number[] = [];
  for (let i = 1; i <= SAMPLES; i++) {
    const w = word(i);
    small.push(await sample(w, `Small document number ${i} mentions ${w} once.`));
  }
  const large: number[] = [];
  for (let i = 0; i < LARGE_SAMPLES; i++) {
    const w = word(1000 + i);
    large.push(await sample(w, `${filler(3000)}\n\nThe last paragraph mentions ${w}.`));
  }
  const fmt = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    return `median ${Math.round(pct(s, 50)!)} ms, p95 ${Math.round(pct(s, 95)!)} ms, max ${Math.round(s.at(-1)!)} ms`;
  };
  console.log("upload through A (web) → ingested by B (worker) → found through C (web), target ≤ 5000 ms");
  console.log(`  small documents (1 passage), ${SAMPLES} samples: ${fmt(small)}`);
  console.log(`  large documents (~200 KB, ~250 passages), ${LARGE_SAMPLES} samples: ${fmt(large)}`);
} catch (err) {
  for (const s of servers) console.error(s.base, s.log().slice(-3000));
  throw err;
} finally {
  for (const s of servers) await s.stop();
  await pg.drop();
}
