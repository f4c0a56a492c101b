// Revert data from every shape nodes send it in. A node answers a reverted call or gas estimate with a JSON-RPC
// error, and where it puts the revert bytes differs: code 3 with `data: "0x…"` (Geth, Hardhat's HTTP server),
// `-32000` with `data: "0x…"` (Geth family, Besu, Nethermind), `data: { data: "0x…" }`, `data: { originalError:
// { data: "0x…" } }` (proxies and older tooling), or only in the message ("execution reverted: 0x…"). viem decodes
// the first shape itself; this finds the bytes in any of them and decodes the custom error by name with the ABI.
import { type Abi, BaseError, ContractFunctionRevertedError, decodeErrorResult, type Hex } from "viem";
import { ProjectEscrow } from "./contracts.gen";

/** A decoded revert: the custom error's name and arguments, and the raw bytes. */
export interface DecodedRevert {
  name: string;
  args: readonly unknown[];
  data: Hex;
}

const HEX = /^0x(?:[0-9a-fA-F]{2})+$/;
const HEX_IN_TEXT = /0x[0-9a-fA-F]{8,}/g;

/** Hex revert bytes found in one JSON-RPC error `data` value, in the nestings nodes use. */
function hexIn(data: unknown, depth = 0): Hex[] {
  if (depth > 4 || data === null || data === undefined) return [];
  if (typeof data === "string") return HEX.test(data) && data.length >= 10 ? [data as Hex] : [];
  if (typeof data !== "object") return [];
  const o = data as Record<string, unknown>;
  return [
    ...hexIn(o.data, depth + 1),
    ...hexIn(o.result, depth + 1),
    ...hexIn((o.originalError as Record<string, unknown> | undefined)?.data, depth + 1),
    ...(typeof o.message === "string" ? [...o.message.matchAll(HEX_IN_TEXT)].map((m) => m[0] as Hex) : []),
  ];
}

/** Every error in the cause chain (viem's `cause`, and plain `error`/`originalError` objects some clients nest). */
function chain(err: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let e: unknown = err;
  for (let i = 0; i < 12 && e && typeof e === "object" && !out.includes(e as Record<string, unknown>); i++) {
    const o = e as Record<string, unknown>;
    out.push(o);
    e = o.cause ?? o.error ?? o.originalError;
  }
  return out;
}

/** Candidate revert bytes, most specific first: `data` fields, then hex in messages. */
function candidates(err: unknown): Hex[] {
  const errors = chain(err);
  const fromData = errors.flatMap((e) => hexIn(e.data));
  const fromText = errors.flatMap((e) =>
    [e.details, e.shortMessage, e.message]
      .filter((t): t is string => typeof t === "string")
      .flatMap((t) => [...t.matchAll(HEX_IN_TEXT)].map((m) => m[0] as Hex)),
  );
  return [...new Set([...fromData, ...fromText])];
}

/**
 * The custom error (or `Error(string)` / `Panic(uint256)`) a call reverted with, decoded with `abi` (the escrow's
 * by default); undefined when the error carries no revert bytes that decode (a transport error, a timeout).
 */
export function decodeRevert(err: unknown, abi: Abi = ProjectEscrow.abi as Abi): DecodedRevert | undefined {
  if (err instanceof BaseError) {
    const viemRevert = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (viemRevert instanceof ContractFunctionRevertedError && viemRevert.data?.errorName) {
      return {
        name: viemRevert.data.errorName,
        args: viemRevert.data.args ?? [],
        data: (viemRevert.raw ?? "0x") as Hex,
      };
    }
  }
  for (const data of candidates(err)) {
    try {
      const decoded = decodeErrorResult({ abi, data });
      return { name: decoded.errorName, args: decoded.args ?? [], data };
    } catch {
      // not revert data of this ABI (an address or a hash in a message): try the next
    }
  }
  return undefined;
}

/** Whether an error says the EVM met an opcode it does not know (the node's fork is older than the code's). */
export function isInvalidOpcode(err: unknown): boolean {
  return chain(err).some((e) =>
    [e.details, e.shortMessage, e.message].some(
      (t) =>
        typeof t === "string" && /invalid opcode|opcode 0x5[cde] not defined|InvalidFEOpcode|not activated/i.test(t),
    ),
  );
}

/** JSON-RPC error codes nodes answer a failed call or estimate with (not transport trouble). */
const EXECUTION_CODES = new Set([3, -32000, -32003, -32015, -32603]);

/** Whether the node answered with an execution error (as opposed to a transport error or a timeout). */
export function isNodeAnswer(err: unknown): boolean {
  return chain(err).some((e) => typeof e.code === "number" && EXECUTION_CODES.has(e.code));
}
