import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { type AppContext, type Principal, requireUser } from "../core/context";
import { AppError, invalidInput } from "../core/errors";
import { pageProps, seeOther, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { loadProject } from "../projects/access";
import { projectRights } from "../projects/service";
import { sidebarPanel } from "../sidebar/service";
import { SidebarPanel } from "../sidebar/views";
import {
  deleteDocument,
  documentJson,
  listDocuments,
  loadDocument,
  MAX_DOCUMENT_BYTES,
  reindexDocument,
  replaceDocument,
  retrieve,
  type Upload,
  uploadDocument,
} from "./service";
import { DocumentRowView, DocumentsPage } from "./views";

/** The `file` field of a multipart body, read into memory (the server caps bodies; we cap documents at 20 MB). */
async function fileOf(body: unknown): Promise<Upload> {
  const f = (body as Record<string, unknown> | null)?.file;
  if (!(f instanceof Blob) || f.size === 0) throw invalidInput({ file: "choose a file" });
  if (f.size > MAX_DOCUMENT_BYTES) {
    throw new AppError("PAYLOAD_TOO_LARGE", "Documents are limited to 20 MB.", 413, { maxBytes: MAX_DOCUMENT_BYTES });
  }
  return { name: (f as File).name ?? "document", bytes: new Uint8Array(await f.arrayBuffer()) };
}

/** The documents tab, its forms, and the documents API (spec §5.8). */
export const documentRoutes = (ctx: AppContext) => {
  const page = async (p: Principal, projectId: string, error?: string, status = 200) => {
    const project = await loadProject(ctx.db, p, projectId, "documents.view");
    const [rights, documents, sidebar] = await Promise.all([
      projectRights(ctx.db, p, project),
      listDocuments(ctx, p, project.id),
      sidebarPanel(ctx, p, { scope: "project", scopeId: project.id, projectId: project.id }),
    ]);
    return html(
      <DocumentsPage
        {...pageProps(p)}
        project={project}
        {...rights}
        documents={documents}
        error={error}
        sidebar={<SidebarPanel {...sidebar} csrf={p.csrfToken} />}
      />,
      status,
    );
  };
  const back = async (request: Request, p: Principal, projectId: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500 || err.status === 404 || err.status === 403) throw err;
      const detail = Object.values((err.details.fields ?? {}) as Record<string, string>).join("; ");
      return page(p, projectId, detail ? `${err.message} ${detail}` : err.message, err.status);
    }
    return seeOther(request, `/projects/${projectId}/documents`);
  };

  return (
    new Elysia({ name: "documents" })
      .use(httpContext(ctx))
      // ---- API
      .post(
        "/api/projects/:id/documents",
        async ({ params, body, principal, set }) => {
          const p = await principal();
          await loadProject(ctx.db, p, params.id, "documents.manage"); // who asks comes before what they sent
          const doc = await uploadDocument(ctx, p, params.id, await fileOf(body));
          set.status = 201;
          return documentJson(doc);
        },
        {
          detail: {
            summary:
              "Upload a document (multipart field `file`; Markdown, text, code or PDF, ≤ 20 MB, type checked by content)",
            tags: ["documents"],
          },
        },
      )
      .get(
        "/api/projects/:id/documents",
        async ({ params, principal }) => ({
          documents: (await listDocuments(ctx, await principal(), params.id)).map(documentJson),
        }),
        {
          detail: { summary: "A project's documents", tags: ["documents"] },
        },
      )
      .get(
        "/api/documents/:id",
        async ({ params, principal }) =>
          documentJson((await loadDocument(ctx, await principal(), params.id, "documents.view")).doc),
        {
          detail: { summary: "One document's metadata and indexing status", tags: ["documents"] },
        },
      )
      .put(
        "/api/documents/:id",
        async ({ params, body, principal }) => {
          const p = await principal();
          await loadDocument(ctx, p, params.id, "documents.manage");
          return documentJson(await replaceDocument(ctx, p, params.id, await fileOf(body)));
        },
        {
          detail: { summary: "Replace a document's file (re-ingested)", tags: ["documents"] },
        },
      )
      .delete(
        "/api/documents/:id",
        async ({ params, principal, set }) => {
          await deleteDocument(ctx, await principal(), params.id);
          set.status = 204;
          return null;
        },
        { detail: { summary: "Delete a document, its file and its vectors", tags: ["documents"] } },
      )
      .post(
        "/api/documents/:id/reindex",
        async ({ params, principal, set }) => {
          set.status = 202;
          return { runId: await reindexDocument(ctx, await principal(), params.id) };
        },
        { detail: { summary: "Index a document again", tags: ["documents"] } },
      )
      .get(
        "/api/projects/:id/search",
        async ({ params, query, principal }) => {
          const p = requireUser(await principal());
          const project = await loadProject(ctx.db, p, params.id, "documents.view");
          const q = typeof query.q === "string" ? query.q.slice(0, 500) : "";
          if (!q.trim()) return { method: "none", passages: [] };
          const k = Math.min(Math.max(Number(query.k) || 6, 1), 20);
          const r = await retrieve(ctx, project.id, q, { k, userId: p.userId, orgId: project.orgId });
          return { method: r.method, passages: r.passages };
        },
        {
          detail: {
            summary: "Search a project's documents (what the planner and assistant retrieve)",
            tags: ["documents"],
          },
        },
      )
      // ---- pages
      .get("/projects/:id/documents", async ({ request, params, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        return page(p, params.id);
      })
      .get("/documents/:id/row", async ({ params, principal }) => {
        const p = requireUser(await principal());
        const { doc, project } = await loadDocument(ctx, p, params.id, "documents.view");
        const { canManage } = await projectRights(ctx.db, p, project);
        return html(<DocumentRowView d={doc} canManage={canManage} csrf={p.csrfToken} />);
      })
      .post("/projects/:id/documents", async ({ request, params, body, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        await loadProject(ctx.db, p, params.id, "documents.manage");
        return back(request, p, params.id, async () => uploadDocument(ctx, p, params.id, await fileOf(body)));
      })
      .post("/documents/:id/delete", async ({ request, params, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { project } = await loadDocument(ctx, p, params.id, "documents.manage");
        return back(request, p, project.id, () => deleteDocument(ctx, p, params.id));
      })
      .post("/documents/:id/reindex", async ({ request, params, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { project } = await loadDocument(ctx, p, params.id, "documents.manage");
        return back(request, p, project.id, () => reindexDocument(ctx, p, params.id));
      })
  );
};
