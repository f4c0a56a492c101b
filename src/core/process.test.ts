// External processes run in their own group: deadlines and cancellation end every process of it.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { runProcess } from "./process";

/** True while `pid` is a live process (a zombie counts as ended). */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    return /^State:\s+(\w)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] !== "Z";
  } catch {
    return false;
  }
}

async function gone(pid: number, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive(pid) && Date.now() < end) await Bun.sleep(20);
  return !alive(pid);
}

test("returns the output and exit code", async () => {
  const r = await runProcess(["sh", "-c", "echo out; echo err >&2; exit 3"]);
  expect(r).toMatchObject({ code: 3, stdout: "out\n", stderr: "err\n", timedOut: false, aborted: false });
});

test("stdin is given and closed", async () => {
  const r = await runProcess(["cat"], { stdin: "piped" });
  expect(r.stdout).toBe("piped");
});

test("the deadline kills the whole group, grandchildren included, and returns at once", async () => {
  let grandchild = 0;
  const started = performance.now();
  const r = await runProcess(["sh", "-c", "sleep 30 & echo $!; sleep 30; wait"], {
    timeoutMs: 500,
    onStdout: (c) => {
      grandchild ||= Number(Buffer.from(c).toString().trim());
    },
  });
  expect(r.timedOut).toBe(true);
  expect(r.code).toBeNull();
  expect(r.signal).toBe("SIGKILL");
  expect(performance.now() - started).toBeLessThan(2000);
  expect(grandchild).toBeGreaterThan(0);
  expect(await gone(grandchild)).toBe(true);
});

test("aborting the caller's signal kills the whole group", async () => {
  const ac = new AbortController();
  let grandchild = 0;
  setTimeout(() => ac.abort(), 300);
  const r = await runProcess(["sh", "-c", "sleep 30 & echo $!; wait"], {
    signal: ac.signal,
    onStdout: (c) => {
      grandchild ||= Number(Buffer.from(c).toString().trim());
    },
  });
  expect(r.aborted).toBe(true);
  expect(await gone(grandchild)).toBe(true);
});

test("a child left behind in the group is ended when the process exits", async () => {
  const r = await runProcess(["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"]);
  expect(r.code).toBe(0);
  expect(await gone(Number(r.stdout.trim()))).toBe(true);
});

test("a child that leaves the group and keeps the pipes open does not hold the result past a short grace", async () => {
  const started = performance.now();
  // setsid execs in place (a background child is not a group leader), so $! is the escaped sleep's pid.
  const r = await runProcess(["sh", "-c", "setsid sleep 30 & echo $!"], { timeoutMs: 10_000 });
  const escaped = Number(r.stdout.trim());
  try {
    expect(r.code).toBe(0);
    expect(escaped).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(3000);
  } finally {
    process.kill(escaped, "SIGKILL");
  }
});
