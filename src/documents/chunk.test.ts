// PDF parsing keeps the process's output JSON: pdf.js's warnings about damaged files are not printed.
import { expect, test } from "bun:test";
import { join } from "node:path";

// A PDF without a cross-reference table and with a missing font: pdf.js repairs it, warning twice by default.
const DAMAGED_PDF = [
  "%PDF-1.4",
  "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj",
  "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj",
  "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>\nendobj",
  "4 0 obj\n<< /Length 37 >>\nstream\nBT /F1 12 Tf 72 720 Td (hello) Tj ET\nendstream\nendobj",
  "trailer\n<< /Root 1 0 R >>\n%%EOF\n",
].join("\n");

test("a damaged PDF is parsed without a line on stdout or stderr", async () => {
  // A child process, so everything pdf.js prints (console.log goes straight to stdout) is seen.
  const script = `
    const { parsePdf } = await import(${JSON.stringify(join(import.meta.dir, "chunk.ts"))});
    const sections = await parsePdf(new TextEncoder().encode(${JSON.stringify(DAMAGED_PDF)}));
    process.exitCode = sections[0]?.text.includes("hello") ? 0 : 3;
  `;
  const child = Bun.spawnSync(["bun", "-e", script], { cwd: join(import.meta.dir, "..", "..") });
  expect(child.stderr.toString()).toBe("");
  expect(child.stdout.toString()).toBe("");
  expect(child.exitCode).toBe(0);
});
