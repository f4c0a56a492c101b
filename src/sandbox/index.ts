// The sandbox service: picks a backend (Docker when an engine answers, bubblewrap otherwise) and runs commands
// in it. Domains import this module, never a backend directly.
import { BwrapBackend, findBwrap } from "./bwrap";
import { DockerBackend } from "./docker";
import type { BackendKind, SandboxBackend } from "./types";

export { DEFAULT_EGRESS_ALLOW, egressAllowed, startEgressProxy, type EgressProxy } from "./egress";
export * from "./types";
export { BwrapBackend, DockerBackend };

/** Which backend to use: a kind, or "auto" (DEVSPONSOR_SANDBOX_BACKEND, else Docker when reachable, else bwrap). */
export type BackendChoice = BackendKind | "auto";

let swept = false;

/** A backend of the requested kind; throws when none is usable. */
export async function openSandbox(choice: BackendChoice = "auto"): Promise<SandboxBackend> {
  const wanted = choice === "auto" ? (process.env.DEVSPONSOR_SANDBOX_BACKEND as BackendChoice) || "auto" : choice;
  if (wanted === "docker" || wanted === "auto") {
    const docker = new DockerBackend();
    if (await docker.available()) {
      if (!swept) {
        swept = true;
        void docker.sweep().catch(() => 0);
      }
      return docker;
    }
    if (wanted === "docker") throw new Error("the Docker engine is not reachable (run scripts/start-docker)");
  }
  if (findBwrap()) return new BwrapBackend();
  throw new Error("no sandbox backend: start the Docker engine or install bubblewrap (apt-get install bubblewrap)");
}
