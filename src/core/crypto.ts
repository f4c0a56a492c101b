import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const VERSION = "v1";

/** Derives the 32-byte master key: 64 hex chars or base64 of 32 bytes are used as is, anything else via scrypt. */
export function parseMasterKey(raw: string): Buffer {
  const s = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, "hex");
  const b64 = Buffer.from(s, "base64");
  if (b64.length === 32 && /^[A-Za-z0-9+/=_-]+$/.test(s)) return b64;
  if (s.length < 16) throw new Error("DEVSPONSOR_MASTER_KEY is too short: use 32 random bytes (hex or base64)");
  return scryptSync(s, "devsponsor-master-key", 32);
}

/** Loads the master key from the environment value, or from `file`, creating it (mode 0600) at first boot. */
export function loadOrCreateMasterKey(envValue: string | undefined, file: string): Buffer {
  if (envValue) return parseMasterKey(envValue);
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) chmodSync(file, 0o600); // tighten a key file someone loosened
    return parseMasterKey(readFileSync(file, "utf8"));
  }
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  return key;
}

/** AES-256-GCM with a random 96-bit IV; `aad` binds the ciphertext to its purpose (e.g. the setting key). */
export function encrypt(key: Buffer, plaintext: string | Uint8Array, aad = ""): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
}

/** Decrypts `encrypt`'s output; throws when the key, the AAD or the ciphertext is wrong. */
export function decryptBytes(key: Buffer, sealed: string, aad = ""): Buffer {
  const [version, payload] = sealed.split(":", 2);
  if (version !== VERSION || !payload) throw new Error("unknown ciphertext format");
  const buf = Buffer.from(payload, "base64");
  const decipher = createDecipheriv("aes-256-gcm", key, buf.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(buf.subarray(12, 28));
  return Buffer.concat([decipher.update(buf.subarray(28)), decipher.final()]);
}

export const decrypt = (key: Buffer, sealed: string, aad = "") => decryptBytes(key, sealed, aad).toString("utf8");

/** SHA-256 hex digest. */
export const sha256Hex = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Constant-time comparison of two strings (signatures, tokens). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
