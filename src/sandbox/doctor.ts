// `devsponsor doctor` check for the sandbox: which backend runs verification steps, whether its images are
// built, and a real `true` run through it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BwrapBackend, findBwrap } from "./bwrap";
import { DockerBackend } from "./docker";
import type { SandboxBackend } from "./types";

/** Result of one doctor check. */
export interface CheckResult {
  ok: boolean;
  detail: string;
  fix?: string;
}

const BUILD_FIX = "build the images: scripts/build-sandbox-images";

/** Reports whether a sandbox backend works here and, when not, how to fix it. */
export async function checkSandbox(): Promise<CheckResult> {
  const docker = new DockerBackend();
  if (await docker.available()) {
    const version = (await docker.docker.version().catch(() => null))?.Version ?? "?";
    let images: string;
    try {
      const [h, p] = await Promise.all([docker.image("harness"), docker.image("prover")]);
      images = `harness ${h.ref} (${h.digest.slice(7, 19)}), prover ${p.ref} (${p.digest.slice(7, 19)})`;
    } catch {
      return { ok: false, detail: `Docker ${version} answers but the sandbox images are missing`, fix: BUILD_FIX };
    }
    const probe = await probeRun(docker);
    if (probe) return { ok: false, detail: `Docker ${version}: a test run failed: ${probe}`, fix: BUILD_FIX };
    return { ok: true, detail: `Docker ${version}; ${images}` };
  }

  const dockerFix =
    "install and start Docker: scripts/start-docker (apt-get install docker.io; dockerd --storage-driver=overlay2), then scripts/build-sandbox-images";
  if (!findBwrap()) {
    return {
      ok: false,
      detail: "no sandbox backend: the Docker engine is not reachable and bubblewrap is not installed",
      fix: `${dockerFix}; or apt-get install bubblewrap`,
    };
  }
  const bwrap = new BwrapBackend();
  const image = await bwrap.image("harness");
  const probe = await probeRun(bwrap);
  if (probe) return { ok: false, detail: `bubblewrap: a test run failed: ${probe}`, fix: dockerFix };
  const notes: string[] = [];
  if (image.ref === "host") notes.push("uses the host's /usr (no built root filesystem)");
  if (!bwrap.cgroupSupport()) notes.push("no cgroups: memory and CPU limits are not enforced");
  return {
    ok: true,
    detail: `bubblewrap (Docker engine not reachable), root ${image.ref}${notes.length ? `; ${notes.join("; ")}` : ""}`,
    fix: notes.length ? `${dockerFix}; or scripts/build-sandbox-images --rootfs-only and run as root` : undefined,
  };
}

async function probeRun(backend: SandboxBackend): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), "sbx-doctor-"));
  try {
    await backend.ownWorkDir(dir);
    const r = await backend.run({ cmd: ["true"], workDir: dir, limits: { timeoutMs: 30_000 } });
    return r.status === "OK" ? null : (r.message ?? r.status);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
