// The first platform admin and the one-time setup token: until a platform admin exists, /setup asks for it, so the first stranger to reach a
// fresh appliance cannot make themselves its admin. It lives in a 0600 file in the data dir; the log of the first
// start and `devsponsor doctor` show it to whoever runs the machine.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AppContext } from "../core/context";
import { sql } from "drizzle-orm";
import { safeEqual, sha256Hex } from "../core/crypto";
import type { Db } from "../core/db";
import { AppError, conflict, invalidInput } from "../core/errors";
import { checkAccountInput, createLocalUser, hasAdmin, randomToken } from "./service";

/** Where the setup token is kept. */
export const setupTokenPath = (dataDir: string) => join(dataDir, "setup-token");

const read = (dataDir: string) => {
  try {
    return readFileSync(setupTokenPath(dataDir), "utf8").trim();
  } catch {
    return "";
  }
};

/** The setup token while no admin exists, created on first use; null (and the file removed) once one does. */
export async function ensureSetupToken(db: Db, dataDir: string): Promise<string | null> {
  if (await hasAdmin(db)) {
    discardSetupToken(dataDir);
    return null;
  }
  const existing = read(dataDir);
  if (existing) return existing;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = randomToken(24);
  try {
    writeFileSync(setupTokenPath(dataDir), `${token}\n`, { mode: 0o600, flag: "wx" });
  } catch {
    return read(dataDir) || null; // another process (the doctor, a second start) wrote it first
  }
  return token;
}

/** Whether `given` is the current setup token; compared in constant time (over hashes, so lengths do not leak). */
export function setupTokenMatches(dataDir: string, given: string): boolean {
  const stored = read(dataDir);
  if (!stored || !given) return false;
  return safeEqual(sha256Hex(stored), sha256Hex(given.trim()));
}

/** Removes the token: it is single-use and dead once an admin exists. */
export function discardSetupToken(dataDir: string) {
  rmSync(setupTokenPath(dataDir), { force: true });
}

/**
 * Creates the first platform admin from /setup, given the setup token. Fails with SETUP_DONE once an admin exists,
 * also when two requests race (the check and the insert run under one lock); the token is then gone for good.
 */
export async function createFirstAdmin(
  db: Db,
  dataDir: string,
  input: { email: string; password: string; name: string; setupToken: string },
) {
  const user = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(7341920115)`);
    if (await hasAdmin(tx)) throw conflict("The platform admin already exists; sign in instead.", "SETUP_DONE");
    if (!setupTokenMatches(dataDir, input.setupToken)) {
      const message =
        "The setup token is not right: take it from the server log of the first start or from `devsponsor doctor`.";
      throw new AppError("SETUP_TOKEN_INVALID", message, 403, { fields: { setupToken: "Not the setup token." } });
    }
    const errors = checkAccountInput(input);
    if (Object.keys(errors).length) throw invalidInput(errors);
    return createLocalUser(tx, { ...input, isAdmin: true, emailVerified: true });
  });
  discardSetupToken(dataDir);
  return user;
}

/** The doctor's line: the token to open /setup with while no admin exists. Never shown over HTTP. */
export async function setupCheck(ctx: AppContext): Promise<{ status: "ok" | "warn"; detail: string; fix?: string }> {
  const token = await ensureSetupToken(ctx.db, ctx.config.dataDir);
  if (!token) return { status: "ok", detail: "a platform admin exists" };
  return {
    status: "warn",
    detail: `no platform admin yet; setup token: ${token}`,
    fix: "open /setup and enter the setup token, or run: devsponsor admin create --email E --password-file F",
  };
}
