import { createHash } from "node:crypto";
// Embedded in the binary as text; served at content-hashed URLs so they can be cached forever.
import htmx from "htmx.org/dist/htmx.min.js" with { type: "text" };
import css from "./static/app.css" with { type: "text" };
import js from "./static/app.js" with { type: "text" };
import wallet from "./static/wallet.js" with { type: "text" };

interface Asset {
  path: string;
  body: string;
  type: string;
}

function asset(name: string, ext: string, body: string, type: string): Asset {
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 10);
  return { path: `/static/${name}.${hash}.${ext}`, body, type };
}

/** The static assets by logical name, with their hashed URLs. */
export const ASSETS = {
  htmx: asset("htmx", "js", htmx as unknown as string, "text/javascript; charset=utf-8"),
  css: asset("app", "css", css as unknown as string, "text/css; charset=utf-8"),
  js: asset("app", "js", js as unknown as string, "text/javascript; charset=utf-8"),
  /** The funding pages' browser-wallet script (EIP-1193), loaded only where a deposit can be sent. */
  wallet: asset("wallet", "js", wallet as unknown as string, "text/javascript; charset=utf-8"),
} as const;

export const ASSETS_BY_PATH = new Map(Object.values(ASSETS).map((a) => [a.path, a]));
