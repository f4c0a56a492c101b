import { createHash } from "node:crypto";
import type { AiCallMeta } from "../ai/audit";
import { modelConfig } from "../ai/provider";
import { type AiDeps, embedTexts } from "../ai/service";

/** Turns texts into vectors; `key` names the vector space (vectors of different keys never mix). */
export interface Embedder {
  key: string;
  label: string;
  embed(texts: string[]): Promise<number[][]>;
}

export const HASH_DIMS = 256;

const STOP = new Set(
  "a an and are as at be by for from has have in is it its of on or that the this to was were will with we you your i not no can do does".split(
    " ",
  ),
);

/** Lower-cased word tokens without stop words (Unicode letters and digits). */
export function tokens(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}_'-]*/gu) ?? []).filter((w) => w.length > 1 && !STOP.has(w));
}

// FNV-1a: fast, stable across processes and versions (the vectors are stored).
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The built-in embedder for installs without an embedding model: a hashed bag of words and word pairs
 * (feature hashing, sign from a second hash bit, sublinear term frequency), L2-normalized. Deterministic and
 * fast; it finds passages that share words with the question, not paraphrases.
 */
export function hashEmbed(text: string, dims = HASH_DIMS): number[] {
  const v = new Float64Array(dims);
  const toks = tokens(text);
  const tf = new Map<string, number>();
  for (let i = 0; i < toks.length; i++) {
    tf.set(toks[i]!, (tf.get(toks[i]!) ?? 0) + 1);
    if (i + 1 < toks.length) {
      const bi = `${toks[i]} ${toks[i + 1]}`;
      tf.set(bi, (tf.get(bi) ?? 0) + 0.5);
    }
  }
  for (const [t, n] of tf) {
    const h = fnv1a(t);
    v[h % dims]! += (h & 0x80000000 ? -1 : 1) * (1 + Math.log(n));
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return Array.from(v, (x) => x / norm);
}

/** The hashing embedder. */
export const hashEmbedder: Embedder = {
  key: `hash${HASH_DIMS}`,
  label: `built-in hashing embedder (${HASH_DIMS} dimensions)`,
  embed: async (texts) => texts.map((t) => hashEmbed(t)),
};

/** The configured embedding model as an Embedder (audited), or the hashing embedder when none is configured. */
export function currentEmbedder(deps: AiDeps, meta: Omit<AiCallMeta, "purpose">): Embedder {
  const cfg = modelConfig(deps.settings);
  if (cfg.provider === "none" || !cfg.embeddingModel) return hashEmbedder;
  const id = `${cfg.provider}:${cfg.baseUrl}:${cfg.embeddingModel}`;
  return {
    key: `m${createHash("sha256").update(id).digest("hex").slice(0, 16)}`,
    label: `${cfg.embeddingModel} (${cfg.provider})`,
    embed: async (texts) => {
      const out: number[][] = [];
      for (let i = 0; i < texts.length; i += 64) {
        const part = await embedTexts(deps, { ...meta, purpose: "embed" }, texts.slice(i, i + 64));
        if (!part) throw new Error("the embedding model is no longer configured");
        out.push(...part);
      }
      return out;
    },
  };
}
