import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { git, startGitHost } from "./support/git-host";

const host = startGitHost();
afterAll(() => host.stop());

test("the git host serves clone and push over smart HTTP", async () => {
  const first = await host.createRepo("demo", { "README.md": "# demo\n", "a.test.ts": "test('a', () => {});\n" });
  expect(first).toMatch(/^[0-9a-f]{40}$/);
  const heads = await git(["ls-remote", host.url("demo")]);
  expect(heads).toContain(`${first}\trefs/heads/main`);

  const fix = await host.push("demo", { "a.test.ts": "test('b', () => {});\n" }, { branch: "fix-1" });
  expect(fix).not.toBe(first);
  const dir = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP!, "clone-"));
  await git(["clone", "-q", "--branch", "fix-1", host.url("demo"), dir]);
  expect(await git(["rev-parse", "HEAD"], dir)).toBe(fix);
  expect(readFileSync(join(dir, "a.test.ts"), "utf8")).toContain("'b'");
  // main did not move
  expect(await git(["ls-remote", host.url("demo"), "refs/heads/main"])).toStartWith(first);
});

test("an unknown repository is a 404, not a hang", async () => {
  const res = await fetch(`${host.url("nope")}/info/refs?service=git-upload-pack`);
  expect(res.status).toBe(404);
});
