// `devsponsor admin create --email E --password-file F [--name N]`: creates a platform admin from a shell.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { dataPaths } from "../core/boot";
import { loadConfig } from "../core/config";
import { openDatabase } from "../core/db";
import { AppError } from "../core/errors";
import { discardSetupToken } from "./first-admin";
import { createLocalUser } from "./service";

/** Runs `admin create`. The password is read from a file (or `-` for stdin), never from the command line. */
export async function adminCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      email: { type: "string" },
      "password-file": { type: "string" },
      name: { type: "string" },
      "data-dir": { type: "string" },
    },
    allowPositionals: true,
  });
  if (positionals[0] !== "create" || !values.email || !values["password-file"]) {
    console.error("usage: devsponsor admin create --email E --password-file F [--name N] [--data-dir DIR]");
    return 2;
  }
  const file = values["password-file"];
  const password = (file === "-" ? await Bun.stdin.text() : readFileSync(file, "utf8")).replace(/\r?\n$/, "");
  const config = loadConfig(process.env, { dataDir: values["data-dir"] });
  const database = await openDatabase(
    config.databaseUrl ? { url: config.databaseUrl } : { dir: dataPaths(config.dataDir).pg },
  );
  try {
    const user = await createLocalUser(database.db, {
      email: values.email,
      password,
      name: values.name ?? values.email.split("@")[0],
      isAdmin: true,
      emailVerified: true,
    });
    discardSetupToken(config.dataDir); // an admin exists: /setup is closed for good
    console.log(`admin created: ${user.email} (${user.id})`);
    return 0;
  } catch (err) {
    if (err instanceof AppError) {
      const fields = Object.entries((err.details.fields ?? {}) as Record<string, string>).map(([k, v]) => `${k}: ${v}`);
      console.error(`devsponsor admin create: ${err.message}${fields.length ? ` (${fields.join("; ")})` : ""}`);
      return 1;
    }
    throw err;
  } finally {
    await database.close();
  }
}
