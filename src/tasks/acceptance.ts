// Acceptance tests fixed by the sponsor: the test ids and files each task names, pinned to the base branch's
// head when the plan is approved (or to a hidden test bundle the sponsor uploads), and what people may see of
// them. Contributors see the named tests and the pinned commit, never a hidden bundle's files or contents.
import { gunzipSync } from "node:zlib";
import { and, eq } from "drizzle-orm";
import { Parser, type ReadEntry } from "tar";
import { audit } from "../audit/service";
import type { AppContext, Principal } from "../core/context";
import { decryptBytes, encrypt, sha256Hex } from "../core/crypto";
import type { Db } from "../core/db";
import { AppError, conflict, forbidden, invalidInput, zodFieldErrors } from "../core/errors";
import { checkRepoUrl } from "../core/net/ssrf";
import { projectGitToken } from "../github/api";
import { AcceptanceUpdateRequest, repoPath } from "../milestones/model";
import { type AcceptancePin, type Task, tasks } from "../milestones/schema";
import { updateTask } from "../milestones/service";
import { can, requireOrgRole } from "../orgs/permissions";
import type { Project } from "../projects/schema";
import { taskTestBundles } from "./schema";
import { loadTask } from "./service";
import type { Q } from "./state";
import { remoteHead } from "./work-check";

type Ctx = Pick<AppContext, "db" | "settings" | "log" | "masterKey">;

/** The largest test bundle accepted, as uploaded (tar or tar.gz). */
export const MAX_BUNDLE_BYTES = 5 * 1024 * 1024;
/** The largest bundle once unpacked, and the most files it may hold: a small upload cannot inflate without bound. */
const MAX_UNPACKED_BYTES = 20 * 1024 * 1024;
const MAX_BUNDLE_FILES = 500;

/** The base commit acceptance tests are pinned to: the head of the project's default branch. */
export interface BaseCommit {
  commit: string;
  ref: string;
}

const pinUnavailable = (why: string) =>
  new AppError("PIN_UNAVAILABLE", `The acceptance tests could not be pinned: ${why}`, 422);

/**
 * Reads the head of the project's default branch with `git ls-remote`, after the repository URL rules
 * (src/core/net/ssrf.ts) allowed the address. PIN_UNAVAILABLE when there is no repository or it cannot be read.
 */
export async function resolveBaseCommit(
  ctx: Pick<AppContext, "settings" | "db" | "log">,
  project: Pick<Project, "id" | "repoUrl">,
): Promise<BaseCommit> {
  if (!project.repoUrl) throw pinUnavailable("the project has no repository.");
  const checked = await checkRepoUrl(project.repoUrl, { allow: ctx.settings.get("security.allowedRepoHosts") });
  try {
    const token = await projectGitToken(ctx, project.id, project.repoUrl);
    return await remoteHead(checked.url, checked.gitConfig, undefined, token);
  } catch (err) {
    throw pinUnavailable(err instanceof Error ? err.message : String(err));
  }
}

/** The pin a task gets on `base`: a bundle pin keeps its bundle and learns the base commit. */
export function pinOn(base: BaseCommit, current: AcceptancePin | null, now = new Date()): AcceptancePin {
  if (current?.kind === "bundle") return { ...current, baseCommit: base.commit, pinnedAt: now.toISOString() };
  return { kind: "commit", commit: base.commit, ref: base.ref, pinnedAt: now.toISOString() };
}

/** Pins every task of a project to `base` (the plan's approval calls it inside its transaction). */
export async function pinProjectTasks(tx: Q, projectId: string, base: BaseCommit, now = new Date()): Promise<number> {
  const rows = await tx
    .select({ id: tasks.id, pin: tasks.acceptancePin })
    .from(tasks)
    .where(eq(tasks.projectId, projectId));
  for (const r of rows) {
    await tx
      .update(tasks)
      .set({ acceptancePin: pinOn(base, r.pin, now) })
      .where(eq(tasks.id, r.id));
  }
  return rows.length;
}

function requireWrite(principal: Principal) {
  if (principal.via === "api-key" && !principal.scopes?.includes("write")) {
    throw forbidden("This API key lacks the write scope.");
  }
}

/** Loads a task whose acceptance tests the caller may change (sponsor, maintainer, owner of its org). */
async function loadForChange(ctx: Ctx, principal: Principal | null, taskId: string) {
  const tc = await loadTask(ctx.db, principal, taskId);
  requireWrite(principal!);
  await requireOrgRole(ctx.db, principal!, tc.project.orgId, "project.manageMilestones", "Task");
  // After approval the tests are a promise to whoever claims: they change only while nobody holds the task.
  if (tc.project.structureApprovedAt && tc.task.status !== "OPEN") {
    throw conflict(
      "A claimed task's acceptance tests are fixed: release the claim first, then change them.",
      "TASK_STATE_CONFLICT",
    );
  }
  return tc;
}

/**
 * Changes a task's acceptance tests, test files and suite command. Before the plan is approved this is a draft
 * edit (a new draft version); after, it re-pins the task to the base branch's head and is audited.
 */
export async function updateAcceptance(ctx: Ctx, principal: Principal | null, taskId: string, body: unknown) {
  const { task, project } = await loadForChange(ctx, principal, taskId);
  const parsed = AcceptanceUpdateRequest.safeParse(body);
  if (!parsed.success) throw invalidInput(zodFieldErrors(parsed.error.issues));
  const input = parsed.data;
  const verification = {
    acceptanceTests: input.acceptanceTests,
    testFiles: input.testFiles,
    ...(input.testCommand !== undefined ? { testCommand: input.testCommand } : {}),
  };
  if (!project.structureApprovedAt) return updateTask(ctx.db, principal, task.id, { verification });
  const base = await resolveBaseCommit(ctx, project);
  return ctx.db.transaction(async (tx) => {
    const [current] = await tx.select().from(tasks).where(eq(tasks.id, task.id)).for("update");
    if (current?.status !== "OPEN") throw conflict("The task was claimed meanwhile.", "TASK_STATE_CONFLICT");
    const pin = pinOn(base, current.acceptancePin);
    const [updated] = await tx
      .update(tasks)
      .set({ verification: { ...current.verification, ...verification }, acceptancePin: pin, updatedAt: new Date() })
      .where(eq(tasks.id, task.id))
      .returning();
    await audit(tx as Db, {
      actorId: principal!.userId,
      action: "task.acceptance_changed",
      targetType: "task",
      targetId: task.id,
      orgId: project.orgId,
      payload: {
        tests: verification.acceptanceTests.length,
        files: verification.testFiles.length,
        testCommand: updated!.verification.testCommand,
        pinnedTo: base.commit,
        previousPin: current.acceptancePin?.kind === "commit" ? current.acceptancePin.commit : null,
      },
    });
    return updated!;
  });
}

/** What a test bundle holds, once read. */
interface ReadBundle {
  tar: Buffer;
  files: string[];
}

/**
 * Reads an uploaded tar (or tar.gz): regular files and directories only (links and devices are refused), each
 * path relative without `..`, at most MAX_BUNDLE_FILES files and MAX_UNPACKED_BYTES unpacked.
 */
export async function readBundle(upload: Uint8Array): Promise<ReadBundle> {
  if (upload.byteLength === 0) throw invalidInput({ bundle: "The file is empty." });
  if (upload.byteLength > MAX_BUNDLE_BYTES) {
    throw new AppError("PAYLOAD_TOO_LARGE", `A test bundle can be at most ${MAX_BUNDLE_BYTES / 1024 / 1024} MB.`, 413);
  }
  let tar: Buffer;
  try {
    // Stored unpacked: the harness gets a plain tar, and its sha256 names the content, not the compression.
    tar =
      upload[0] === 0x1f && upload[1] === 0x8b
        ? gunzipSync(upload, { maxOutputLength: MAX_UNPACKED_BYTES })
        : Buffer.from(upload);
  } catch {
    throw invalidInput({ bundle: "The file is not a readable .tar.gz (or it unpacks to more than 20 MB)." });
  }
  const files: string[] = [];
  const problems: string[] = [];
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({ strict: true });
    parser.on("entry", (e: ReadEntry) => {
      // `tar -C dir -czf b.tgz .` names entries "./tests/a.test.ts" (and "./" itself): the prefix is no part of the path.
      const path = e.path.replace(/^(?:\.\/)+/, "").replace(/\/+$/, "");
      if (e.type === "Directory" && (path === "" || path === ".")) {
        // the archive's own root
      } else if (e.type === "Directory") {
        if (!repoPath.safeParse(path).success) problems.push(`${path.slice(0, 100)}: not a relative path`);
      } else if (e.type === "File" || e.type === "OldFile" || e.type === "ContiguousFile") {
        if (!repoPath.safeParse(path).success) problems.push(`${path.slice(0, 100)}: not a relative path`);
        else files.push(path);
        total += e.size ?? 0;
      } else {
        problems.push(`${path.slice(0, 100)}: ${e.type} entries are not allowed (files and folders only)`);
      }
      e.resume();
    });
    parser.on("error", reject);
    parser.on("end", () => resolve());
    parser.end(tar);
  }).catch(() => {
    throw invalidInput({ bundle: "The file is not a readable tar archive." });
  });
  if (files.length === 0 && problems.length === 0) throw invalidInput({ bundle: "The archive holds no files." });
  if (problems.length) throw invalidInput({ bundle: `The archive was refused: ${problems.slice(0, 5).join("; ")}` });
  if (files.length > MAX_BUNDLE_FILES) throw invalidInput({ bundle: `At most ${MAX_BUNDLE_FILES} files.` });
  if (total > MAX_UNPACKED_BYTES) throw invalidInput({ bundle: "The archive unpacks to more than 20 MB." });
  if (new Set(files).size !== files.length) throw invalidInput({ bundle: "The archive holds a file twice." });
  return { tar, files: files.sort() };
}

const bundleAad = (taskId: string) => `task-test-bundle:${taskId}`;

/**
 * Stores a hidden test bundle for a task (encrypted with the master key) and pins the task to it; after the
 * plan's approval the pin also records the base branch's head. Replaces an earlier bundle. Audited.
 */
export async function uploadTestBundle(ctx: Ctx, principal: Principal | null, taskId: string, upload: Uint8Array) {
  const { task, project } = await loadForChange(ctx, principal, taskId);
  const { tar, files } = await readBundle(upload);
  const sha256 = sha256Hex(tar);
  const base = project.structureApprovedAt ? await resolveBaseCommit(ctx, project) : null;
  const ciphertext = encrypt(ctx.masterKey, tar, bundleAad(task.id));
  return ctx.db.transaction(async (tx) => {
    const values = { ciphertext, sha256, files, sizeBytes: tar.byteLength, uploadedById: principal!.userId };
    const [bundle] = await tx
      .insert(taskTestBundles)
      .values({ taskId: task.id, ...values })
      .onConflictDoUpdate({ target: taskTestBundles.taskId, set: { ...values, createdAt: new Date() } })
      .returning({ id: taskTestBundles.id });
    const pin: AcceptancePin = {
      kind: "bundle",
      bundleId: bundle!.id,
      sha256,
      pinnedAt: new Date().toISOString(),
      ...(base ? { baseCommit: base.commit } : {}),
    };
    await tx.update(tasks).set({ acceptancePin: pin, updatedAt: new Date() }).where(eq(tasks.id, task.id));
    await audit(tx as Db, {
      actorId: principal!.userId,
      action: "task.test_bundle_uploaded",
      targetType: "task",
      targetId: task.id,
      orgId: project.orgId,
      payload: { sha256, files: files.length, sizeBytes: tar.byteLength, baseCommit: base?.commit ?? null },
    });
    return { bundleId: bundle!.id, sha256, files: files.length, pin };
  });
}

/** Removes a task's hidden test bundle; the task is pinned to the base commit again (after approval). Audited. */
export async function removeTestBundle(ctx: Ctx, principal: Principal | null, taskId: string) {
  const { task, project } = await loadForChange(ctx, principal, taskId);
  const base = project.structureApprovedAt ? await resolveBaseCommit(ctx, project) : null;
  await ctx.db.transaction(async (tx) => {
    const gone = await tx
      .delete(taskTestBundles)
      .where(eq(taskTestBundles.taskId, task.id))
      .returning({ id: taskTestBundles.id });
    if (gone.length === 0) throw conflict("The task has no hidden test bundle.", "NOT_FOUND");
    await tx
      .update(tasks)
      .set({ acceptancePin: base ? pinOn(base, null) : null, updatedAt: new Date() })
      .where(eq(tasks.id, task.id));
    await audit(tx as Db, {
      actorId: principal!.userId,
      action: "task.test_bundle_removed",
      targetType: "task",
      targetId: task.id,
      orgId: project.orgId,
      payload: { baseCommit: base?.commit ?? null },
    });
  });
}

/**
 * The hidden test bundle of a task, decrypted, for the harness: the plain tar, its files and its sha256 (checked
 * against the stored one). Null when the task has none. Never reaches a contributor: no route returns it.
 */
export async function loadTestBundle(
  ctx: Pick<AppContext, "db" | "masterKey">,
  taskId: string,
): Promise<{ tar: Uint8Array; files: string[]; sha256: string } | null> {
  const [b] = await ctx.db.select().from(taskTestBundles).where(eq(taskTestBundles.taskId, taskId)).limit(1);
  if (!b) return null;
  const tar = decryptBytes(ctx.masterKey, b.ciphertext, bundleAad(taskId));
  if (sha256Hex(tar) !== b.sha256) throw new AppError("INTERNAL", "The stored test bundle does not match its hash.");
  return { tar: new Uint8Array(tar), files: b.files, sha256: b.sha256 };
}

/** What a person sees of a task's acceptance tests; `bundle` only for those who may change them. */
export interface AcceptanceView {
  tests: string[];
  files: string[];
  testCommand: string;
  pin: AcceptancePin | null;
  /** The pinned commit (a commit pin's, or a bundle pin's base commit). */
  commit: string | null;
  /** A link to the pinned commit when the repository is on GitHub. */
  commitUrl: string | null;
  /** How many hidden test files a bundle holds (everyone sees the count, nobody but reviewers the names). */
  hiddenFiles: number;
  bundle: { files: string[]; sha256: string; sizeBytes: number; uploadedAt: Date } | null;
  /** The plan is approved (an approved task without a pin could not be pinned). */
  approved: boolean;
  canChange: boolean;
}

/**
 * A task's acceptance tests as the caller may see them. The bundle's file names are read only for a caller whose
 * role may change the task's tests: the check is here, not in the page.
 */
export async function acceptanceView(
  db: Q,
  task: Task,
  project: Project,
  role: Parameters<typeof can>[0],
): Promise<AcceptanceView> {
  const manager = can(role, "project.manageMilestones");
  const pin = task.acceptancePin ?? null;
  const commit = pin?.kind === "commit" ? pin.commit : (pin?.baseCommit ?? null);
  let hiddenFiles = 0;
  let bundle: AcceptanceView["bundle"] = null;
  if (pin?.kind === "bundle") {
    const [b] = await db
      .select({
        files: taskTestBundles.files,
        sha256: taskTestBundles.sha256,
        sizeBytes: taskTestBundles.sizeBytes,
        uploadedAt: taskTestBundles.createdAt,
      })
      .from(taskTestBundles)
      .where(and(eq(taskTestBundles.taskId, task.id), eq(taskTestBundles.id, pin.bundleId)))
      .limit(1);
    hiddenFiles = b?.files.length ?? 0;
    if (b && manager) bundle = b;
  }
  return {
    tests: task.verification.acceptanceTests ?? [],
    files: task.verification.testFiles ?? [],
    testCommand: task.verification.testCommand,
    pin,
    commit,
    commitUrl:
      commit && project.repoProvider === "github" && project.repoUrl ? `${project.repoUrl}/commit/${commit}` : null,
    hiddenFiles,
    bundle,
    approved: !!project.structureApprovedAt,
    canChange: manager && (!project.structureApprovedAt || task.status === "OPEN"),
  };
}
