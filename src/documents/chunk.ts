import type { DocumentType } from "./schema";

/** A passage of a document, the unit of retrieval and citation. */
export interface Chunk {
  index: number;
  text: string;
  /** 1-based PDF page, null for text files. */
  page: number | null;
  /** The Markdown heading the passage sits under. */
  heading: string | null;
}

/** A parsed document: text sections with their page numbers. */
export interface Section {
  text: string;
  page: number | null;
}

/** Extracts text from a PDF, one section per page (unpdf, loaded when needed). */
export async function parsePdf(bytes: Uint8Array): Promise<Section[]> {
  const { extractText, getDocumentProxy } = await import("unpdf");
  // pdf.js prints warnings about damaged files with console.log, which would break the JSON log: errors only
  // (a PDF it cannot read still throws).
  const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
  const { text } = await extractText(pdf, { mergePages: false });
  return (text as string[]).map((t, i) => ({ text: t, page: i + 1 }));
}

const SIZE = 1000;
const OVERLAP = 150;

/**
 * Splits sections into passages of about `size` characters along paragraph (then sentence, then word)
 * boundaries, each starting with the last `overlap` characters of the one before, so an answer that straddles
 * a boundary is still found. Markdown passages remember their heading.
 */
export function chunkSections(sections: Section[], type: DocumentType, size = SIZE, overlap = OVERLAP): Chunk[] {
  const chunks: Chunk[] = [];
  const room = Math.max(100, size - overlap);
  for (const section of sections) {
    let heading: string | null = null;
    let carry = "";
    let parts: string[] = [];
    let len = 0;
    let partsHeading: string | null = null;
    const emit = () => {
      if (!parts.length) return;
      const text = ((carry ? `${carry}\n\n` : "") + parts.join("\n\n")).trim();
      chunks.push({ index: chunks.length, text, page: section.page, heading: partsHeading });
      carry = tail(text, overlap);
      parts = [];
      len = 0;
    };
    for (const para of paragraphs(section.text, type)) {
      const h = type === "MARKDOWN" ? /^#{1,6}\s+(.+)$/.exec(para) : null;
      if (h) {
        emit();
        carry = ""; // a new heading starts a new passage without overlap
        heading = h[1]!.trim().slice(0, 200);
      }
      for (const piece of splitLong(para, room)) {
        if (len + piece.length > room && parts.length) emit();
        if (!parts.length) partsHeading = heading;
        parts.push(piece);
        len += piece.length + 2;
      }
    }
    emit();
  }
  return chunks;
}

function paragraphs(text: string, type: DocumentType): string[] {
  const normalized = text.replace(/\r\n?/g, "\n");
  if (type === "MARKDOWN") {
    // keep headings as their own paragraph even without a blank line after them
    return normalized
      .replace(/^(#{1,6}\s+.+)$/gm, "\n$1\n")
      .split(/\n{2,}/)
      .map((p) => p.trim())
      .filter(Boolean);
  }
  return normalized
    .split(/\n\s*\n/)
    .map((p) => p.trimEnd())
    .filter((p) => p.trim());
}

/** Splits a paragraph longer than `size` at sentence ends, then at spaces, then hard. */
function splitLong(p: string, size: number): string[] {
  if (p.length <= size) return [p];
  const out: string[] = [];
  let rest = p;
  while (rest.length > size) {
    const window = rest.slice(0, size);
    let cut = Math.max(window.lastIndexOf(". "), window.lastIndexOf(".\n"), window.lastIndexOf("\n"));
    if (cut < size * 0.5) cut = window.lastIndexOf(" ");
    if (cut < size * 0.5) cut = size - 1;
    out.push(rest.slice(0, cut + 1).trim());
    rest = rest.slice(cut + 1);
  }
  if (rest.trim()) out.push(rest.trim());
  return out;
}

/** The last ~n characters, starting at a word boundary. */
function tail(text: string, n: number): string {
  if (text.length <= n) return text;
  const t = text.slice(-n);
  const sp = t.indexOf(" ");
  return sp > 0 && sp < n / 2 ? t.slice(sp + 1) : t;
}
