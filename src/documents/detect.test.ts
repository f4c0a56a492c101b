import { describe, expect, test } from "bun:test";
import { chunkSections, parsePdf } from "./chunk";
import { classifyText, detectType } from "./detect";
import { hashEmbed, tokens } from "./embedder";

/** A minimal one-page-per-text PDF with correct cross-reference offsets. */
function makePdf(pages: string[]): Uint8Array {
  const objs: string[] = [];
  const kids = pages.map((_, i) => `${4 + i * 2} 0 R`).join(" ");
  objs.push("<< /Type /Catalog /Pages 2 0 R >>");
  objs.push(`<< /Type /Pages /Kids [${kids}] /Count ${pages.length} >>`);
  objs.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  pages.forEach((text, i) => {
    const stream = `BT /F1 12 Tf 72 720 Td (${text.replace(/[()\\]/g, "\\$&")}) Tj ET`;
    objs.push(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + i * 2} 0 R >>`,
    );
    objs.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
  });
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objs.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) out += `${String(off).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(out);
}

const enc = (s: string) => new TextEncoder().encode(s);

describe("type detection by content", () => {
  const cases: [string, Uint8Array, string][] = [
    ["markdown", enc("# Title\n\nSome text with a [link](http://x).\n\n- item one\n- item two\n"), "MARKDOWN"],
    ["plain prose", enc("This is a letter.\nIt has two lines of ordinary prose and nothing else.\n"), "TEXT"],
    ["typescript", enc("import { x } from './x';\n\nexport function f(a: number) {\n  return a + 1;\n}\n"), "CODE"],
    ["python with # comments", enc("# compute things\nimport os\n\ndef main():\n    return os.getcwd()\n"), "CODE"],
    ["shell script", enc("#!/bin/sh\necho hi\n"), "CODE"],
    ["pdf", makePdf(["hello"]), "PDF"],
    [
      "utf-16 text with BOM",
      new Uint8Array([
        0xff,
        0xfe,
        ...new Uint8Array(new Uint16Array([..."hello world"].map((c) => c.charCodeAt(0))).buffer),
      ]),
      "TEXT",
    ],
  ];
  for (const [name, bytes, type] of cases) {
    test(name, () => expect(detectType(bytes).type).toBe(type as any));
  }

  test("a PNG named notes.md is refused: the name plays no part", () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    expect(() => detectType(png)).toThrow(/PNG/);
  });
  test("a ZIP (also a .docx) is refused", () =>
    expect(() => detectType(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]))).toThrow(/ZIP/));
  test("invalid UTF-8 is refused", () =>
    expect(() => detectType(new Uint8Array([0x41, 0xc3, 0x28, 0x41]))).toThrow(/neither/));
  test("text with NUL bytes is refused", () =>
    expect(() => detectType(enc("abc\u0000\u0000\u0000def"))).toThrow(/binary/));
  test("an empty file is refused", () => expect(() => detectType(new Uint8Array())).toThrow(/empty/));
  test("markdown-ish prose stays text without markdown signals", () =>
    expect(classifyText("Hello.\nWorld.")).toBe("TEXT"));
});

describe("parsing and chunking", () => {
  test("a PDF is parsed page by page", async () => {
    const sections = await parsePdf(makePdf(["The first page talks about apples.", "The second page is about pears."]));
    expect(sections.map((s) => s.page)).toEqual([1, 2]);
    expect(sections[1]!.text).toContain("pears");
  });

  test("markdown chunks keep their heading, respect the size and overlap", () => {
    const para = (w: string) => Array.from({ length: 40 }, (_, i) => `${w}${i}`).join(" ") + ".";
    const md = `# Intro\n\n${para("alpha")}\n\n## Storage\n\n${para("beta")}\n\n${para("gamma")}\n\n${para("delta")}\n`;
    const chunks = chunkSections([{ text: md, page: null }], "MARKDOWN", 500, 80);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks[0]!.heading).toBe("Intro");
    expect(chunks.at(-1)!.heading).toBe("Storage");
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(500 + 80);
    // consecutive passages under one heading overlap
    const storage = chunks.filter((c) => c.heading === "Storage");
    expect(storage.length).toBeGreaterThan(1);
    const tail = storage[0]!.text.slice(-30);
    expect(storage[1]!.text).toContain(tail.slice(tail.indexOf(" ") + 1));
    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
  });

  test("a long unbroken paragraph is split", () => {
    const chunks = chunkSections([{ text: "x".repeat(5000), page: 3 }], "TEXT", 1000, 100);
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    expect(chunks.every((c) => c.page === 3)).toBe(true);
  });
});

describe("hashing embedder", () => {
  test("deterministic, normalized, and closer for shared words", () => {
    const a = hashEmbed("the escrow contract releases payments per task");
    expect(hashEmbed("the escrow contract releases payments per task")).toEqual(a);
    expect(Math.hypot(...a)).toBeCloseTo(1, 6);
    const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    expect(dot(a, hashEmbed("escrow payments"))).toBeGreaterThan(dot(a, hashEmbed("banana smoothie recipe")));
  });
  test("tokens drop stop words and punctuation", () =>
    expect(tokens("The quick, brown fox!")).toEqual(["quick", "brown", "fox"]));
});
