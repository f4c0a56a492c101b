import { eq, sql } from "drizzle-orm";
import { decrypt, encrypt } from "../crypto";
import type { Db } from "../db";
import { invalidInput, type FieldErrors } from "../errors";
import { unstorablePath } from "../http/input";
import { log } from "../logger";
import {
  envName,
  parseSettingText,
  SETTINGS,
  type SettingDef,
  type SettingKey,
  type SettingValue,
  settingOptions,
} from "./registry";
import { settings } from "./schema";

/** Where a setting's effective value comes from. */
export type SettingSource = "env" | "database" | "default";

/** A setting as shown to an admin: secrets never carry their value, only whether one is set. */
export interface SettingView {
  key: SettingKey;
  label: string;
  help?: string;
  secret: boolean;
  source: SettingSource;
  value: unknown;
  isSet: boolean;
  /** The allowed values of a setting that takes one of a few (the page shows a select). */
  options?: readonly string[];
}

export const REDACTED = "[redacted]";

/** Whether `key` names a setting (own keys only: `constructor` or `__proto__` are not settings). */
export const isSettingKey = (key: string): key is SettingKey => Object.hasOwn(SETTINGS, key);

/** Typed settings over the `settings` table: env overrides, then stored values, then defaults. */
export class SettingsService {
  private stored = new Map<string, unknown>();

  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Loads stored values (call at boot and after changes made by another process). */
  async reload() {
    // The value is read as JSON text and parsed here: the drivers' jsonb mapping parses a stored string a second
    // time, which turned a text setting saved as "12345" or "true" into a number or a boolean.
    const rows = await this.db
      .select({ key: settings.key, value: sql<string | null>`${settings.value}::text`, secret: settings.secret })
      .from(settings);
    const next = new Map<string, unknown>();
    for (const row of rows) {
      if (!isSettingKey(row.key)) continue; // a setting removed from the registry stays in the table, unused
      const value = row.secret ? decrypt(this.masterKey, row.secret, row.key) : JSON.parse(row.value ?? "null");
      const parsed = (SETTINGS[row.key] as SettingDef).schema.safeParse(value);
      if (parsed.success) next.set(row.key, parsed.data);
      else log.warn("stored setting no longer valid; using its default", { key: row.key });
    }
    this.stored = next;
  }

  private source(key: SettingKey): SettingSource {
    if (this.env[envName(key)] !== undefined) return "env";
    return this.stored.has(key) ? "database" : "default";
  }

  /** The effective value of one setting. */
  get<K extends SettingKey>(key: K): SettingValue<K> {
    const def = SETTINGS[key] as SettingDef;
    const raw = this.env[envName(key)];
    if (raw !== undefined) {
      const parsed = def.schema.safeParse(parseSettingText(key, raw));
      if (parsed.success) return parsed.data as SettingValue<K>;
      throw new Error(`${envName(key)} is not valid: ${parsed.error.issues[0]?.message}`);
    }
    return (this.stored.has(key) ? this.stored.get(key) : def.default) as SettingValue<K>;
  }

  /** Every setting, redacted, for the admin page and API. */
  list(): SettingView[] {
    return (Object.keys(SETTINGS) as SettingKey[]).map((key) => {
      const def = SETTINGS[key] as SettingDef;
      const value = this.get(key);
      const isSet = value !== "" && value !== undefined && value !== null;
      return {
        key,
        label: def.label,
        help: def.help,
        secret: !!def.secret,
        source: this.source(key),
        value: def.secret ? (isSet ? REDACTED : "") : value,
        isSet,
        options: settingOptions(key),
      };
    });
  }

  /**
   * Validates and stores changes. Unknown keys and values that fail their schema are rejected as a whole;
   * a secret sent as "" or "[redacted]" keeps its current value; `null` resets a setting to its default.
   */
  async update(patch: Record<string, unknown>, actor: string | null): Promise<SettingKey[]> {
    const errors: FieldErrors = {};
    const changes: { key: SettingKey; value: unknown; reset: boolean }[] = [];
    for (const [key, value] of Object.entries(patch)) {
      if (!isSettingKey(key)) {
        errors[key] = "unknown setting";
        continue;
      }
      const k = key;
      const def = SETTINGS[k] as SettingDef;
      if (def.secret && (value === "" || value === REDACTED)) continue;
      if (value === null) {
        changes.push({ key: k, value: null, reset: true });
        continue;
      }
      // the schema speaks first: a form's "many" in a number field is NaN, which is "Enter a number.", not text
      const parsed = def.schema.safeParse(value);
      if (!parsed.success) errors[key] = parsed.error.issues[0]?.message ?? "invalid";
      else if (unstorablePath(value) !== null) errors[key] = "Contains characters that cannot be stored.";
      else changes.push({ key: k, value: parsed.data, reset: false });
    }
    if (Object.keys(errors).length) throw invalidInput(errors, "Some settings are not valid.");
    await this.db.transaction(async (tx) => {
      for (const c of changes) {
        if (c.reset) {
          await tx.delete(settings).where(eq(settings.key, c.key));
          continue;
        }
        const secret = (SETTINGS[c.key] as SettingDef).secret;
        const row = secret
          ? { value: null, secret: encrypt(this.masterKey, String(c.value), c.key) }
          : { value: c.value, secret: null };
        await tx
          .insert(settings)
          .values({ key: c.key, ...row, updatedBy: actor })
          .onConflictDoUpdate({ target: settings.key, set: { ...row, updatedBy: actor, updatedAt: new Date() } });
      }
    });
    await this.reload();
    return changes.map((c) => c.key);
  }
}
