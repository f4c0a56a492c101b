import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensurePrivateDir, VectorStore } from "./store";

test("the vector store's directory is made private, also when it existed already", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "ds-vec-")), "lancedb");
  mkdirSync(dir, { mode: 0o755 });
  const store = new VectorStore(dir);
  try {
    expect(await store.count()).toBe(0);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  } finally {
    await store.close();
  }
});

test("a new private directory is created 0700 whatever the umask", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "ds-priv-")), "a", "uploads");
  const umask = process.umask(0o002);
  try {
    ensurePrivateDir(dir);
  } finally {
    process.umask(umask);
  }
  expect(statSync(dir).mode & 0o777).toBe(0o700);
});
