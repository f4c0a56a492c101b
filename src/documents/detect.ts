// A document's type comes from its bytes, never from its name: magic numbers for PDF and known binaries,
// strict UTF-8 (or UTF-16 with a BOM) for text, then a look at the lines to tell Markdown, code and prose apart.
import type { DocumentType } from "./schema";

/** The decided type, with the decoded text for text types. */
export type Detected =
  | { type: "PDF"; mediaType: "application/pdf" }
  | { type: Exclude<DocumentType, "PDF">; mediaType: string; text: string };

/** Binary formats refused outright, by their magic numbers. */
const BINARY_MAGIC: [string, number[]][] = [
  ["PNG image", [0x89, 0x50, 0x4e, 0x47]],
  ["JPEG image", [0xff, 0xd8, 0xff]],
  ["GIF image", [0x47, 0x49, 0x46, 0x38]],
  ["ZIP archive (or an Office document)", [0x50, 0x4b, 0x03, 0x04]],
  ["gzip archive", [0x1f, 0x8b]],
  ["ELF executable", [0x7f, 0x45, 0x4c, 0x46]],
  ["Windows executable", [0x4d, 0x5a]],
  ["WebAssembly module", [0x00, 0x61, 0x73, 0x6d]],
  ["7-Zip archive", [0x37, 0x7a, 0xbc, 0xaf]],
  ["RAR archive", [0x52, 0x61, 0x72, 0x21]],
  ["SQLite database", [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65]],
  ["bzip2 archive", [0x42, 0x5a, 0x68]],
  ["xz archive", [0xfd, 0x37, 0x7a, 0x58, 0x5a]],
];

const startsWith = (b: Uint8Array, sig: number[], at = 0) => sig.every((x, i) => b[at + i] === x);

/** Why a file was refused. */
export class UnsupportedContent extends Error {}

/** Decides the type of an upload from its content; throws UnsupportedContent for anything else. */
export function detectType(bytes: Uint8Array): Detected {
  if (bytes.length === 0) throw new UnsupportedContent("the file is empty");
  // PDF readers accept the header within the first KiB.
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 1024));
  if (head.includes("%PDF-")) return { type: "PDF", mediaType: "application/pdf" };
  for (const [name, sig] of BINARY_MAGIC) {
    if (startsWith(bytes, sig))
      throw new UnsupportedContent(`binary files are not accepted (this looks like a ${name})`);
  }
  const text = decodeText(bytes);
  if (text === null) throw new UnsupportedContent("the file is neither a PDF nor UTF-8 text");
  if (controlRatio(text) > 0.01) throw new UnsupportedContent("the file contains binary data");
  const type = classifyText(text);
  const mediaType = type === "MARKDOWN" ? "text/markdown" : type === "CODE" ? "text/x-source" : "text/plain";
  return { type, mediaType, text };
}

/** Strict UTF-8 (BOM stripped) or UTF-16 with a BOM; null when the bytes are not text. */
function decodeText(bytes: Uint8Array): string | null {
  try {
    if (startsWith(bytes, [0xff, 0xfe])) return new TextDecoder("utf-16le", { fatal: true }).decode(bytes.subarray(2));
    if (startsWith(bytes, [0xfe, 0xff])) return new TextDecoder("utf-16be", { fatal: true }).decode(bytes.subarray(2));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

function controlRatio(text: string): number {
  let control = 0;
  const n = Math.min(text.length, 200_000);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) || c === 0x7f) control++;
  }
  return n ? control / n : 0;
}

const MD_LINE = [
  /^#{1,6}\s+\S/, // heading
  /^\s*[-*+]\s+\S/, // bullet
  /^\s*\d+[.)]\s+\S/, // numbered
  /^\s*```/, // fence
  /^\s*>\s?\S/, // quote
  /^\s*\|.*\|\s*$/, // table row
];
const MD_INLINE = /\[[^\]\n]+\]\([^)\s]+\)|\*\*[^*\n]+\*\*|`[^`\n]+`/;
const CODE_LINE = [
  /^\s*(import|export|from|package|using|namespace|#include|#define|require\()\b/,
  /^\s*(def|class|fn|func|function|interface|struct|enum|impl|trait|module|public|private|protected|static|async)\s+\w/,
  /^\s*(const|let|var|val|mut)\s+\w+\s*[:=]/,
  /[;{}]\s*$/,
  /^\s*(if|for|while|switch|return|elif|else)\b.*[:({]\s*$/,
  /^\s*(\/\/|\/\*|\*\s|--\s)/,
];

/** Markdown, code or plain prose, from line shapes (Python's `# comment` does not make a heading by itself). */
export function classifyText(text: string): "MARKDOWN" | "CODE" | "TEXT" {
  if (text.startsWith("#!")) return "CODE";
  const lines = text
    .split(/\r?\n/)
    .slice(0, 2000)
    .filter((l) => l.trim() !== "");
  if (lines.length === 0) return "TEXT";
  let md = 0;
  let code = 0;
  let headings = 0;
  for (const l of lines) {
    if (MD_LINE.some((r) => r.test(l)) || MD_INLINE.test(l)) md++;
    if (/^#{1,6}\s+\S/.test(l)) headings++;
    if (CODE_LINE.some((r) => r.test(l))) code++;
  }
  const mdRatio = md / lines.length;
  const codeRatio = code / lines.length;
  if (codeRatio >= 0.3 && codeRatio > mdRatio) return "CODE";
  if (headings > 0 && mdRatio >= 0.05) return "MARKDOWN";
  if (mdRatio >= 0.2) return "MARKDOWN";
  return "TEXT";
}
