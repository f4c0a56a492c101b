// `devsponsor doctor` as a user runs it, against local servers that speak the real protocols.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBubblewrap } from "../../test/support/docker";
import { startModelServer } from "../../test/support/model-server";

const MAIN = join(import.meta.dir, "..", "main.ts");

// The runs below point Docker at a missing socket, so the sandbox check falls back to bubblewrap: without it the
// sandbox check fails and so does the exit code these tests expect to be 0.
await ensureBubblewrap();

// A local server speaking Ollama's and the OpenAI-compatible wire formats (test/support/model-server.ts).
const ollama = startModelServer();

// An SMTP relay's greeting (RFC 5321 §4.2: 220 on connect).
const smtp: Server = createServer((s) => s.end("220 mail.test ESMTP ready\r\n"));
await new Promise<void>((r) => smtp.listen(0, "127.0.0.1", r));
const smtpPort = (smtp.address() as { port: number }).port;

afterAll(() => {
  ollama.stop();
  smtp.close();
});

async function doctor(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "ds-doctor-"));
  const p = Bun.spawn(["bun", MAIN, "doctor", "--json"], {
    env: { ...process.env, DEVSPONSOR_DATA_DIR: dir, DOCKER_HOST: "unix:///nonexistent.sock", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = await new Response(p.stdout).text();
  const code = await p.exited;
  return { code, results: JSON.parse(out) as { name: string; status: string; detail: string; fix?: string }[] };
}

test("doctor reports every dependency; unconfigured optional ones are warnings with a fix", async () => {
  const { code, results } = await doctor({ DEVSPONSOR_GITHUB_API_URL: "http://127.0.0.1:9" });
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  expect(Object.keys(by).sort()).toEqual(["chain", "database", "docker", "github", "llm", "sandbox", "setup", "smtp"]);
  expect(by.database.status).toBe("ok");
  expect(by.llm.status).toBe("warn");
  expect(by.smtp.status).toBe("warn");
  expect(by.docker.status).toBe("warn");
  expect(by.docker.fix).toContain("docker");
  expect(by.sandbox).toMatchObject({ status: "ok", detail: expect.stringContaining("bubblewrap") });
  expect(code).toBe(0);
}, 60_000);

test("doctor checks the configured model server and SMTP relay over their real protocols", async () => {
  const { code, results } = await doctor({
    DEVSPONSOR_AI_PROVIDER: "ollama",
    DEVSPONSOR_AI_BASE_URL: ollama.url,
    DEVSPONSOR_AI_CHAT_MODEL: "llama3.1",
    DEVSPONSOR_SMTP_HOST: "127.0.0.1",
    DEVSPONSOR_SMTP_PORT: String(smtpPort),
    DEVSPONSOR_GITHUB_API_URL: "http://127.0.0.1:9",
  });
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  expect(by.llm.status).toBe("ok");
  expect(by.smtp.status).toBe("ok");
  expect(by.smtp.detail).toContain("220");
  expect(code).toBe(0);
}, 60_000);

test("a missing model or an unreachable RPC is a failure with a fix, and the exit code says so", async () => {
  // Ollama answers a chat for a model it does not have with 404 and this error body.
  ollama.script({ status: 404, error: 'model "qwen-not-pulled" not found, try pulling it first' });
  const { code, results } = await doctor({
    DEVSPONSOR_AI_PROVIDER: "ollama",
    DEVSPONSOR_AI_BASE_URL: ollama.url,
    DEVSPONSOR_AI_CHAT_MODEL: "qwen-not-pulled",
    DEVSPONSOR_CHAIN_MODE: "rpc",
    DEVSPONSOR_CHAIN_RPC_URL: "http://127.0.0.1:9",
    DEVSPONSOR_GITHUB_API_URL: "http://127.0.0.1:9",
  });
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  expect(by.llm.status).toBe("fail");
  expect(by.llm.fix).toContain("qwen-not-pulled");
  expect(by.chain.status).toBe("fail");
  expect(by.chain.fix).toBeDefined();
  expect(code).toBe(1);
}, 60_000);
