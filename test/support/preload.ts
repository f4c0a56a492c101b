// Loaded before every test file (bunfig.toml): quiet logs unless asked for, and a private temp dir per run.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setLogSink } from "../../src/core/logger";

if (!process.env.TEST_VERBOSE) setLogSink(() => {}, "error");
process.env.DEVSPONSOR_TEST_TMP ??= mkdtempSync(join(tmpdir(), "devsponsor-test-"));
