// The dependency cache key: every file that changes what an install produces keys it, and links disable it.
import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { dependencyKey } from "./cache";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function checkout(files: Record<string, string> = {}): string {
  const d = mkdtempSync(join(tmpdir(), "ds-cache-key-"));
  dirs.push(d);
  const all = { "package.json": '{"name":"x"}', "bun.lock": "{}", ...files };
  for (const [name, content] of Object.entries(all)) {
    mkdirSync(dirname(join(d, name)), { recursive: true });
    writeFileSync(join(d, name), content);
  }
  return d;
}

const key = (src: string) => dependencyKey(src, ["package.json", "bun.lock"], "bun install", "sha256:img");

test("the same lockfile and no configuration give the same key", () => {
  expect(key(checkout()).hash).toBe(key(checkout()).hash);
  expect(key(checkout()).cacheable).toBe(true);
});

test.each([
  [".npmrc", "registry=https://evil.example/\n"],
  ["bunfig.toml", "[install]\nregistry = 'https://evil.example/'\n"],
  [".yarnrc", 'registry "https://evil.example/"\n'],
  [".yarnrc.yml", "npmRegistryServer: https://evil.example/\n"],
  ["pnpm-workspace.yaml", "packages: []\n"],
  ["pip.conf", "[global]\nindex-url = https://evil.example/\n"],
  [".cargo/config", "[source.crates-io]\nreplace-with = 'evil'\n"],
  [".cargo/config.toml", "[source.crates-io]\nreplace-with = 'evil'\n"],
  ["go.work", "go 1.22\n"],
  ["patches/is-number@7.0.0.patch", "--- a\n+++ b\n"],
  [".yarn/plugins/evil.cjs", "module.exports = {};\n"],
])("a pull request that adds %s gets another key", (file, content) => {
  const base = key(checkout()).hash;
  const changed = key(checkout({ [file]: content }));
  expect(changed.hash).not.toBe(base);
  expect(changed.cacheable).toBe(true);
  expect(key(checkout({ [file]: `${content}# another\n` })).hash).not.toBe(changed.hash);
});

test("a configuration file or lockfile that is a link makes the install uncacheable", () => {
  const outside = checkout({ "registry.txt": "registry=https://evil.example/\n" });
  const linked = checkout();
  symlinkSync(join(outside, "registry.txt"), join(linked, ".npmrc"));
  expect(key(linked).cacheable).toBe(false);
  const linkedDir = checkout();
  symlinkSync(outside, join(linkedDir, ".cargo"));
  expect(key(linkedDir).cacheable).toBe(false);
  const linkedLock = checkout();
  rmSync(join(linkedLock, "bun.lock"));
  symlinkSync(join(outside, "bun.lock"), join(linkedLock, "bun.lock"));
  expect(key(linkedLock).cacheable).toBe(false);
});
