// Receiving GitHub webhooks: the signature is checked over the raw bytes before anything is parsed, each delivery
// id is stored once (a replay finds its row and does nothing), and the work runs in a job so GitHub gets its answer
// at once (it gives up after 10 s).
import { createHmac, timingSafeEqual } from "node:crypto";
import type { AppContext } from "../core/context";
import { AppError, invalidInput, unavailable } from "../core/errors";
import { githubDeliveries } from "./schema";

/** The largest webhook body accepted (GitHub caps payloads at 25 MB; the events handled here are far smaller). */
export const MAX_WEBHOOK_BYTES = 5 * 1024 * 1024;

/** The job that processes one stored delivery. */
export const DELIVERY_JOB = "github.delivery";

/** Whether `signature` (the `X-Hub-Signature-256` header) is the HMAC-SHA256 of `body` under `secret`. */
export function validSignature(secret: string, body: Uint8Array, signature: string | null): boolean {
  if (!secret || !signature?.startsWith("sha256=")) return false;
  const given = Buffer.from(signature.slice(7), "hex");
  const expected = createHmac("sha256", secret).update(body).digest();
  // Compared in constant time; a wrong length (not 32 bytes of hex) fails before the comparison.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** What the endpoint answered: stored and queued, or a replay of a stored delivery. */
export interface Receipt {
  deliveryId: string;
  duplicate: boolean;
}

/**
 * Checks and stores one delivery and queues its processing. Throws 401 WEBHOOK_SIGNATURE_INVALID when the
 * signature is missing or wrong (nothing is parsed or stored), 503 when no webhook secret is configured.
 */
export async function receiveDelivery(ctx: AppContext, request: Request): Promise<Receipt> {
  const secret = ctx.settings.get("github.webhookSecret");
  if (!secret) throw unavailable("No GitHub webhook secret is configured: set up the GitHub App in Settings.");
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > MAX_WEBHOOK_BYTES) throw tooLarge();
  const body = new Uint8Array(await request.arrayBuffer());
  if (body.byteLength > MAX_WEBHOOK_BYTES) throw tooLarge();
  if (!validSignature(secret, body, request.headers.get("x-hub-signature-256"))) {
    throw new AppError(
      "WEBHOOK_SIGNATURE_INVALID",
      "The X-Hub-Signature-256 header is missing or does not match the body under the configured webhook secret.",
      401,
    );
  }
  const deliveryId = request.headers.get("x-github-delivery") ?? "";
  const event = request.headers.get("x-github-event") ?? "";
  if (!/^[\w-]{1,100}$/.test(deliveryId)) throw invalidInput({ "x-github-delivery": "missing or malformed" });
  if (!/^[a-z_]{1,60}$/.test(event)) throw invalidInput({ "x-github-event": "missing or malformed" });
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw invalidInput({ body: "not JSON" }, "The webhook body is not JSON.");
  }
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) throw invalidInput({ body: "not an object" });
  // PostgreSQL's jsonb refuses \u0000 in strings; GitHub bodies may carry it (commit messages): drop it.
  const clean = JSON.parse(JSON.stringify(payload), (_k, v) =>
    typeof v === "string" ? v.replaceAll("\u0000", "") : v,
  );
  const action = typeof clean.action === "string" ? clean.action.slice(0, 60) : null;
  const inserted = await ctx.db
    .insert(githubDeliveries)
    .values({ deliveryId, event, action, payload: clean })
    .onConflictDoNothing()
    .returning({ id: githubDeliveries.deliveryId });
  if (inserted.length === 0) return { deliveryId, duplicate: true };
  await ctx.jobs.enqueue(DELIVERY_JOB, { deliveryId }, { key: `${DELIVERY_JOB}:${deliveryId}` });
  return { deliveryId, duplicate: false };
}

const tooLarge = () =>
  new AppError("PAYLOAD_TOO_LARGE", `Webhook bodies are limited to ${MAX_WEBHOOK_BYTES / 1024 / 1024} MB.`, 413);
