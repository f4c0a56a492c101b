// The compiled binary, copied alone into an empty directory (no node_modules, no Bun on PATH): first boot,
// graceful SIGTERM, restart with its data intact.
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BINARY = join(import.meta.dir, "..", "dist", "devsponsor");
if (!existsSync(BINARY)) throw new Error("dist/devsponsor is not built: bun run build (bun run test builds it first)");
const dir = mkdtempSync(join(tmpdir(), "ds-bin-"));
const children: ReturnType<typeof Bun.spawn>[] = [];

async function freePort() {
  const s = Bun.serve({ port: 0, fetch: () => new Response() });
  const p = s.port!;
  s.stop(true);
  return p;
}

async function boot(port: number) {
  const child = Bun.spawn([join(dir, "devsponsor"), "serve", "--port", String(port)], {
    cwd: dir,
    env: { PATH: "/usr/bin:/bin", HOME: dir, TMPDIR: tmpdir(), LOG_LEVEL: "info" },
    stdout: "pipe",
    stderr: "pipe",
  });
  children.push(child);
  const t0 = performance.now();
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`binary exited with ${child.exitCode}: ${await new Response(child.stderr).text()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.status === 200) return { child, health: (await res.json()) as any, ms: performance.now() - t0 };
    } catch {}
    if (performance.now() - t0 > 60_000) throw new Error("binary did not answer /health within 60 s");
    await Bun.sleep(100);
  }
}

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
});

describe("compiled binary", () => {
  test("boots in an empty dir, stops cleanly on SIGTERM, and keeps its data across a restart", async () => {
    copyFileSync(BINARY, join(dir, "devsponsor"));
    Bun.spawnSync(["chmod", "+x", join(dir, "devsponsor")]);
    const port = await freePort();

    // Anonymous /health shows states only: the database kind and instance id come from the start-up log line.
    const listening = (log: string) =>
      JSON.parse(log.split("\n").find((l) => l.includes('"msg":"devsponsor listening"')) ?? "{}") as {
        database?: string;
        instanceId?: string;
      };
    const first = await boot(port);
    expect(first.health.status).toBe("ok");
    expect(first.health.components.database.status).toBe("ok");
    expect(existsSync(join(dir, "devsponsor-data", "pg"))).toBe(true);
    expect(statSync(join(dir, "devsponsor-data", "master.key")).mode & 0o777).toBe(0o600);

    first.child.kill("SIGTERM");
    expect(await first.child.exited).toBe(0);
    const log = await new Response(first.child.stderr).text();
    expect(log).toContain('"msg":"stopped"');
    expect(listening(log).database).toBe("pglite");
    expect(listening(log).instanceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(existsSync(join(dir, "devsponsor-data", "pg", "devsponsor.pid"))).toBe(false);

    const second = await boot(port);
    second.child.kill("SIGTERM");
    expect(await second.child.exited).toBe(0);
    const again = listening(await new Response(second.child.stderr).text());
    expect(again.instanceId).toBe(listening(log).instanceId!); // same database, not a fresh one
  }, 120_000);
});
