// Which toolchain versions a repository runs with. The repository says what it needs (`engines.node`, `.nvmrc`,
// `.node-version`, `packageManager`, `.python-version`, `rust-toolchain.toml` / `rust-toolchain`, go.mod's `go`
// line); the image lists what it has (tools.env: `<tool>.versions`, each at /opt/<tool>/<version>/bin). Every
// request of a tool must hold for the version chosen, and the newest version that satisfies them all wins. A
// version the image lacks is TOOLCHAIN_UNAVAILABLE (a client error: the run records ERROR, never a verdict).
import { join } from "node:path";
import { AppError } from "../core/errors";
import { readPlainFile } from "../core/safe-fs";
import type { Plan } from "./detect";

/** Tools whose version a repository can ask for. */
export type ToolName = "node" | "python" | "go" | "rust";

/** One thing a repository asks of a tool: where it says so and what it says. */
export interface ToolRequest {
  tool: ToolName;
  /** The file (and field) that asks, e.g. ".nvmrc" or "package.json engines.node". */
  source: string;
  /** What the file says, as written. */
  spec: string;
  /** How the spec is read, in words (e.g. ">=1.22.0", "an LTS line (even major)"). */
  reads: string;
  matches: (version: string) => boolean;
}

/** The package manager a repository names in package.json's `packageManager` ("pnpm@9.15.0+sha512…"). */
export interface PackageManagerRequest {
  name: "npm" | "pnpm" | "yarn" | "bun";
  version: string;
}

/** What a run uses: the chosen versions, the environment that puts them first on PATH, and why. */
export interface Toolchain {
  /** The image's tool versions with the chosen ones in place of the defaults (the digest records this). */
  tools: Record<string, string>;
  /** Chosen version by tool, only for tools the repository asked for or its ecosystem needs. */
  chosen: Partial<Record<ToolName | "npm" | "pnpm" | "yarn" | "bun", string>>;
  /** Variables every step gets on top of the base environment (PATH, npm_config_nodedir). */
  env: Record<string, string>;
  /** One line per decision, for the run log. */
  notes: string[];
}

/** PATH of the images without any toolchain chosen. */
export const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

/** Where a toolchain version lives in the images built by scripts/build-sandbox-images. */
export const toolDir = (tool: ToolName, version: string) => `/opt/${tool}/${version}`;

/** Node release lines by codename, for `.nvmrc` values like `lts/iron`. */
const NODE_CODENAMES: Record<string, number> = {
  argon: 4,
  boron: 6,
  carbon: 8,
  dubnium: 10,
  erbium: 12,
  fermium: 14,
  gallium: 16,
  hydrogen: 18,
  iron: 20,
  jod: 22,
  krypton: 24,
  lts: 0,
};

const major = (v: string) => Number(v.split(".")[0]);
const minor = (v: string) => Number(v.split(".")[1] ?? 0);
/** Versions as three numbers for Bun.semver ("1.22" → "1.22.0"). */
const full = (v: string) => {
  const parts = v.split(".");
  while (parts.length < 3) parts.push("0");
  return parts.slice(0, 3).join(".");
};
const atLeast = (min: string) => (v: string) => Bun.semver.order(full(v), full(min)) >= 0;
const EXACT = /^\d+\.\d+\.\d+$/;

/** First line of a version file that is not blank or a comment. */
function firstLine(text: string): string | null {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, "").trim();
    if (line) return line;
  }
  return null;
}

/**
 * Reads a Node version as nvm and the Node version managers write it (.nvmrc, .node-version): `22`, `v22.12.0`,
 * `22.x`, `>=20`, `lts/*`, `lts/iron`, `node` / `stable` / `latest`. An exact version (`22.12.0`) accepts that
 * major line from that version on: the images keep one build per major line, the newest.
 */
export function parseNodeSpec(spec: string): Pick<ToolRequest, "reads" | "matches"> | null {
  const s = spec.trim().replace(/^v(?=\d)/, "");
  if (!s) return null;
  if (["node", "stable", "latest", "current", "*"].includes(s)) return { reads: "any version", matches: () => true };
  const lts = /^lts\/(.+)$/i.exec(s);
  if (lts) {
    const name = lts[1]!.toLowerCase();
    if (name === "*") return { reads: "an LTS line (even major)", matches: (v) => major(v) % 2 === 0 };
    const line = NODE_CODENAMES[name];
    if (!line) return null;
    return { reads: `${line}.x (lts/${name})`, matches: (v) => major(v) === line };
  }
  if (EXACT.test(s)) return sameLineFrom(s);
  return semverRange(s);
}

/** `X.Y.Z` read as "X.Y.Z or newer on line X". */
function sameLineFrom(v: string): Pick<ToolRequest, "reads" | "matches"> {
  const range = `>=${v} <${major(v) + 1}.0.0`;
  return { reads: range, matches: (x) => Bun.semver.satisfies(full(x), range) };
}

/** An npm semver range; one Bun cannot read matches no version, so the run says what was asked and what exists. */
function semverRange(range: string): Pick<ToolRequest, "reads" | "matches"> {
  const r = range.trim();
  return { reads: r, matches: (v) => Bun.semver.satisfies(full(v), r) };
}

/** Reads `.python-version` (pyenv): `3.11`, `3.11.4` (that minor, that patch or newer), `3`, or `system`. */
export function parsePythonSpec(text: string): Pick<ToolRequest, "reads" | "matches" | "spec"> | null {
  const line = firstLine(text);
  if (!line) return null;
  if (line === "system") return { spec: line, reads: "any version", matches: () => true };
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(line);
  if (!m) return { spec: line, reads: `${line} (not a CPython version)`, matches: () => false };
  const [, ma, mi, pa] = m;
  if (mi === undefined) return { spec: line, reads: `${ma}.x`, matches: (v) => major(v) === Number(ma) };
  const sameMinor = (v: string) => major(v) === Number(ma) && minor(v) === Number(mi);
  if (pa === undefined) return { spec: line, reads: `${ma}.${mi}.x`, matches: sameMinor };
  return { spec: line, reads: `>=${line} <${ma}.${Number(mi) + 1}`, matches: (v) => sameMinor(v) && atLeast(line)(v) };
}

/** Reads go.mod's `go` line: the oldest Go that may build the module (Go's own rule since 1.21). */
export function parseGoMod(text: string): Pick<ToolRequest, "reads" | "matches" | "spec"> | null {
  const m = /^go[ \t]+(\d+\.\d+(?:\.\d+)?)[ \t]*(?:\/\/.*)?$/m.exec(text);
  if (!m) return null;
  const v = m[1]!;
  return { spec: `go ${v}`, reads: `>=${v}`, matches: atLeast(v) };
}

/**
 * Reads a Rust toolchain file (`rust-toolchain.toml`'s `[toolchain] channel`, or the legacy `rust-toolchain`
 * with a bare channel or the same TOML). `stable` takes any release; `1.80` / `1.80.1` the oldest release that
 * builds the crate (Rust's stability promise); `beta` and `nightly` channels are releases the image never has.
 */
export function parseRustToolchain(text: string): Pick<ToolRequest, "reads" | "matches" | "spec"> | null {
  let channel: string | undefined;
  try {
    const toml = Bun.TOML.parse(text) as { toolchain?: { channel?: unknown } };
    if (typeof toml.toolchain?.channel === "string") channel = toml.toolchain.channel;
  } catch {
    // the legacy file holds a bare channel name
  }
  if (channel === undefined) {
    const line = firstLine(text);
    if (!line || line.includes("=") || line.startsWith("[")) return null;
    channel = line;
  }
  const c = channel.trim().replace(/-(x86_64|aarch64|i686)-.*$/, "");
  if (c === "stable") return { spec: channel, reads: "any stable release", matches: () => true };
  if (/^\d+\.\d+(\.\d+)?$/.test(c)) return { spec: channel, reads: `>=${c}`, matches: atLeast(c) };
  return { spec: channel, reads: `the ${c} channel (stable releases only here)`, matches: () => false };
}

/** Reads package.json's `packageManager` ("pnpm@9.15.0+sha512.…"), or null when absent or not of that form. */
export function parsePackageManager(value: unknown): PackageManagerRequest | null {
  if (typeof value !== "string") return null;
  const m = /^(npm|pnpm|yarn|bun)@(\d+(?:\.\d+){0,2}[^+\s]*)(?:\+.*)?$/.exec(value.trim());
  return m ? { name: m[1] as PackageManagerRequest["name"], version: m[2]! } : null;
}

function readText(src: string, name: string): string | null {
  // A checkout may hold symlinks to anywhere on the host: only a plain file is read.
  return readPlainFile(src, join(src, name), 1 << 20)?.toString("utf8") ?? null;
}

function readPackageJson(src: string): Record<string, any> | null {
  const text = readText(src, "package.json");
  try {
    return text === null ? null : JSON.parse(text);
  } catch {
    return null;
  }
}

/** Files of a checkout that ask for toolchain versions (the dependency cache is keyed by them too). */
export const TOOLCHAIN_FILES = [
  ".nvmrc",
  ".node-version",
  ".python-version",
  "rust-toolchain.toml",
  "rust-toolchain",
  "go.mod",
] as const;

/** Everything a checkout asks of its toolchains. */
export function readToolRequests(src: string): {
  requests: ToolRequest[];
  packageManager: PackageManagerRequest | null;
} {
  const requests: ToolRequest[] = [];
  const unreadable = (tool: ToolName, source: string, spec: string): ToolRequest => ({
    tool,
    source,
    spec,
    reads: `${spec} (not a version this appliance can read)`,
    matches: () => false,
  });
  const pkg = readPackageJson(src);
  for (const file of [".nvmrc", ".node-version"]) {
    const text = readText(src, file);
    const line = text === null ? null : firstLine(text);
    if (line === null) continue;
    const parsed = parseNodeSpec(line);
    requests.push(parsed ? { tool: "node", source: file, spec: line, ...parsed } : unreadable("node", file, line));
  }
  const engines = pkg?.engines?.node;
  if (typeof engines === "string" && engines.trim()) {
    requests.push({ tool: "node", source: "package.json engines.node", spec: engines, ...semverRange(engines) });
  }
  const python = readText(src, ".python-version");
  const py = python === null ? null : parsePythonSpec(python);
  if (py) requests.push({ tool: "python", source: ".python-version", ...py });
  const gomod = readText(src, "go.mod");
  const go = gomod === null ? null : parseGoMod(gomod);
  if (go) requests.push({ tool: "go", source: "go.mod", ...go });
  for (const file of ["rust-toolchain.toml", "rust-toolchain"]) {
    const text = readText(src, file);
    const rust = text === null ? null : parseRustToolchain(text);
    if (rust) {
      requests.push({ tool: "rust", source: file, ...rust });
      break; // rustup reads the first of the two
    }
  }
  return { requests, packageManager: parsePackageManager(pkg?.packageManager) };
}

const bare = (v: string) => v.trim().replace(/^[^0-9]*/, "");

/** Versions of a tool the image has, oldest first: `<tool>.versions`, else its one default version. */
export function availableVersions(tools: Record<string, string>, tool: ToolName): string[] {
  const list = tools[`${tool}.versions`];
  const versions = list ? list.split(",").map(bare).filter(Boolean) : tools[tool] ? [bare(tools[tool])] : [];
  return versions.sort((a, b) => Bun.semver.order(full(a), full(b)));
}

function unavailable(message: string, details: Record<string, unknown>): AppError {
  return new AppError("TOOLCHAIN_UNAVAILABLE", message, 422, details);
}

/** The newest version that satisfies every request of the tool; TOOLCHAIN_UNAVAILABLE when none does. */
export function resolveVersion(tool: ToolName, requests: readonly ToolRequest[], available: readonly string[]): string {
  const asks = requests.filter((r) => r.tool === tool);
  const fit = available.filter((v) => asks.every((r) => r.matches(v)));
  const chosen = fit.at(-1);
  if (chosen) return chosen;
  const what = asks.map((r) => `${r.source} asks for ${r.spec.trim()} (${r.reads})`).join("; ");
  const has = available.length ? `it has ${tool} ${available.join(", ")}` : `it has no ${tool}`;
  // Two requests that each fit alone but not together are the repository's own contradiction: say so.
  const alone = asks.filter((r) => available.some((v) => r.matches(v)));
  const clash = asks.length > 1 && alone.length === asks.length ? " (each alone would fit, not all together)" : "";
  throw unavailable(`This appliance cannot run ${tool} as the repository asks: ${what}${clash}; ${has}.`, {
    tool,
    requests: asks.map((r) => ({ source: r.source, spec: r.spec })),
    available,
  });
}

/** The package manager a run uses, checked against the one the image has. */
function resolvePackageManager(
  src: string,
  pm: PackageManagerRequest,
  tools: Record<string, string>,
  notes: string[],
): string {
  const have = tools[pm.name] ? bare(tools[pm.name]!) : null;
  const asked = `packageManager ${pm.name}@${pm.version}`;
  if (!have) throw unavailable(`${asked}: this appliance has no ${pm.name}.`, { tool: pm.name, available: [] });
  if (have === pm.version) return have;
  const [want, got] = [major(pm.version), major(have)];
  switch (pm.name) {
    case "npm":
      // npm 7 and later read and write the same lockfile formats: the image's npm installs what the lockfile says.
      if (want >= 7) {
        notes.push(`${asked}: runs the image's npm ${have}`);
        return have;
      }
      break;
    case "pnpm":
      // pnpm 9 and 10 share lockfile format 9.0.
      if (want === got || (want === 9 && got === 10)) {
        notes.push(`${asked}: runs the image's pnpm ${have}`);
        return have;
      }
      break;
    case "yarn": {
      if (want === 1 && got === 1) {
        notes.push(`${asked}: runs the image's yarn ${have}`);
        return have;
      }
      // Yarn 2+ commits its own release and names it in .yarnrc.yml; the image's yarn 1 hands over to it.
      const yarnPath = /^yarnPath:\s*["']?([^"'\s#]+)/m.exec(readText(src, ".yarnrc.yml") ?? "")?.[1];
      if (want >= 2 && yarnPath && readText(src, yarnPath) !== null) {
        notes.push(`${asked}: runs the repository's own release ${yarnPath}`);
        return pm.version;
      }
      throw unavailable(
        `${asked}: this appliance has yarn ${have}; Yarn ${want} runs only from a release committed in the repository (yarnPath in .yarnrc.yml), and there is none.`,
        { tool: "yarn", requested: pm.version, available: [have] },
      );
    }
    case "bun":
      if (want === got) {
        notes.push(`${asked}: runs the image's bun ${have}`);
        return have;
      }
      break;
  }
  throw unavailable(`${asked}: this appliance has ${pm.name} ${have} only.`, {
    tool: pm.name,
    requested: pm.version,
    available: [have],
  });
}

/** Tools each ecosystem needs even when the repository names no version (it then runs the image's default). */
const ECOSYSTEM_TOOL: Partial<Record<Plan["ecosystem"], ToolName>> = {
  npm: "node",
  python: "python",
  go: "go",
  cargo: "rust",
};

/**
 * Chooses every toolchain of a run from what the checkout asks and what the image has. A tool the repository
 * asks nothing of keeps the image's default (first on the image's PATH).
 */
export function selectToolchain(src: string, plan: Pick<Plan, "ecosystem">, tools: Record<string, string>): Toolchain {
  const { requests, packageManager } = readToolRequests(src);
  const chosen: Toolchain["chosen"] = {};
  const notes: string[] = [];
  const path: string[] = [];
  const env: Record<string, string> = {};
  const out = { ...tools };
  const asked = new Set(requests.map((r) => r.tool));
  const needed = ECOSYSTEM_TOOL[plan.ecosystem];
  for (const tool of ["node", "python", "go", "rust"] as const) {
    const available = availableVersions(tools, tool);
    if (!asked.has(tool)) {
      if (tool === needed && available.length) {
        const fallback = bare(tools[tool] ?? available.at(-1)!);
        chosen[tool] = fallback;
        notes.push(`${tool} ${fallback}: the repository names no version (the image's default)`);
      }
      continue;
    }
    const version = resolveVersion(tool, requests, available);
    chosen[tool] = version;
    out[tool] = version;
    const why = requests
      .filter((r) => r.tool === tool)
      .map((r) => `${r.source} ${r.spec.trim()}`)
      .join(", ");
    notes.push(`${tool} ${version}: newest of ${available.join(", ")} for ${why}`);
    // An image without the per-version layout (an older build, the host's tools) has the one version on PATH.
    if (tools[`${tool}.versions`]) {
      path.push(`${toolDir(tool, version)}/bin`);
      // node-gyp builds native addons against the chosen Node's headers instead of downloading them.
      if (tool === "node" && version !== bare(tools.node ?? "")) env.npm_config_nodedir = toolDir(tool, version);
    }
  }
  if (packageManager) {
    const version = resolvePackageManager(src, packageManager, tools, notes);
    chosen[packageManager.name] = version;
    out[packageManager.name] = version;
  }
  if (path.length) env.PATH = [...path, DEFAULT_PATH].join(":");
  return { tools: out, chosen, env, notes };
}
