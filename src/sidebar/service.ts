import { and, asc, desc, eq, inArray } from "drizzle-orm";
import { uuid } from "../core/http/input";
import { z } from "zod";
import { DATA_RULE, fence, joinSystem, type ChatMessage, systemPrompt } from "../ai/prompt";
import { hasChatModel, streamChat } from "../ai/service";
import type { AppContext, Principal } from "../core/context";
import type { Db } from "../core/db";
import { invalidInput, unauthorized, zodFieldErrors } from "../core/errors";
import { createRateLimiter } from "../core/http/rate-limit";
import { type Passage, retrieve } from "../documents/service";
import type { Milestone, Task } from "../milestones/schema";
import { loadMilestone, loadSub } from "../milestones/service";
import { loadProject } from "../projects/access";
import type { Project } from "../projects/schema";
import { type Citation, type SidebarScope, sidebarConversations, sidebarMessages } from "./schema";

/** Body of `POST /api/ai/sidebar` (spec §5.7). The most specific id given decides the page context. */
export const SidebarRequest = z
  .object({
    message: z.string().trim().min(1, "is empty").max(4000),
    projectId: uuid().optional(),
    milestoneId: uuid().optional(),
    taskId: uuid().optional(),
    includeDocs: z.boolean().default(true),
    repoContext: z.boolean().optional(),
  })
  .strict()
  .refine((b) => b.projectId || b.milestoneId || b.taskId, {
    message: "name a project, milestone or task",
    path: ["projectId"],
  });
export type SidebarRequest = z.input<typeof SidebarRequest>;

const ASSISTANT = systemPrompt`
You are the DevSponsor assistant, shown beside a project, milestone or task page. You help sponsors and contributors
with summaries, questions about the project, its milestones and tasks, acceptance criteria, debugging and pull
requests. Answer concisely in plain text. The page context and document passages are given as data. When you use a
passage, cite it by its number in square brackets, like [1]. When the passages do not contain the answer, say so;
never invent facts, numbers or file contents.`;

/** The sidebar's system prompt. */
export const SIDEBAR_SYSTEM = joinSystem(ASSISTANT, DATA_RULE);

/** The page a conversation is about. */
export interface SidebarContext {
  scope: SidebarScope;
  scopeId: string;
  project: Project;
  milestone?: Milestone;
  task?: Task;
}

/** One streamed sidebar answer. */
export interface SidebarAnswer {
  conversationId: string;
  /** `model`: a language model answers; `retrieval`: the passages themselves are the answer. */
  mode: "model" | "retrieval";
  sources: Citation[];
  deltas: AsyncIterable<string>;
  /** The stored assistant message once the answer is complete. */
  done: Promise<{ messageId: string; text: string; citations: Citation[]; error?: string }>;
}

let limiter: { perMinute: number; take(key: string): void } | undefined;

/** Takes one sidebar request from the user's per-minute budget (`ai.sidebarPerMinute`), or throws RATE_LIMITED. */
export function takeSidebarToken(ctx: Pick<AppContext, "settings">, userId: string) {
  const perMinute = ctx.settings.get("ai.sidebarPerMinute");
  if (!limiter || limiter.perMinute !== perMinute) {
    const l = createRateLimiter({ capacity: perMinute, refillPerSecond: perMinute / 60 });
    limiter = { perMinute, take: (key) => l.take(key) };
  }
  limiter.take(userId);
}

/** Resolves the page context and checks the caller may use the assistant on it. */
export async function resolveContext(
  ctx: AppContext,
  principal: Principal | null,
  body: z.infer<typeof SidebarRequest>,
): Promise<SidebarContext> {
  if (body.taskId) {
    const { sub, milestone, project } = await loadSub(ctx.db, principal, body.taskId, "ai.use");
    return { scope: "task", scopeId: sub.id, project, milestone, task: sub };
  }
  if (body.milestoneId) {
    const { milestone, project } = await loadMilestone(ctx.db, principal, body.milestoneId, "ai.use");
    return { scope: "milestone", scopeId: milestone.id, project, milestone };
  }
  const project = await loadProject(ctx.db, principal, body.projectId!, "ai.use");
  return { scope: "project", scopeId: project.id, project };
}

/** The page context as data for the model. */
function pageBlock(c: SidebarContext): string {
  const lines = [
    `Project: ${c.project.title} (state ${c.project.state}, ${c.project.totalPoints} points approved)`,
    c.project.description,
  ];
  if (c.milestone) {
    lines.push("", `Milestone: ${c.milestone.title} (${c.milestone.points} points)`, c.milestone.description);
    if (c.milestone.acceptanceCriteria.length)
      lines.push(`Milestone acceptance criteria: ${c.milestone.acceptanceCriteria.join("; ")}`);
  }
  if (c.task) {
    const v = c.task.verification;
    lines.push(
      "",
      `Task: ${c.task.title} (${c.task.points} points, status ${c.task.status})`,
      c.task.description,
      `Acceptance criteria: ${c.task.acceptanceCriteria.join("; ")}`,
      `Verification: at least ${v.minPassingTests} passing tests${v.testCommand ? ` with \`${v.testCommand}\`` : ""}${v.rules.length ? `; ${v.rules.join("; ")}` : ""}`,
    );
  }
  return fence("page", lines.join("\n"));
}

/** A passage shortened for display, without Markdown heading marks. */
const excerpt = (text: string, max = 400) => {
  const plain = text.replace(/^#{1,6}\s+/gm, "");
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain;
};

function toCitation(p: Passage): Citation {
  return {
    n: p.n,
    documentId: p.documentId,
    filename: p.filename,
    chunkIndex: p.chunkIndex,
    page: p.page,
    excerpt: excerpt(p.text),
  };
}

/** The numbers an answer cites, among those offered. */
export function citedNumbers(text: string, offered: number): number[] {
  const found = new Set<number>();
  for (const m of text.matchAll(/\[(\d{1,2})(?:\s*,\s*(\d{1,2}))*\]/g)) {
    for (const g of m[0].matchAll(/\d{1,2}/g)) {
      const n = Number(g[0]);
      if (n >= 1 && n <= offered) found.add(n);
    }
  }
  return [...found].sort((a, b) => a - b);
}

/** The answer without a model: the best passages, quoted with their sources, clearly labelled. */
export function retrievalAnswer(passages: Passage[], modelError?: string): string {
  const label = modelError
    ? "The language model did not answer, so here is what the project's documents say"
    : "No language model is configured, so this answer is taken directly from the project's documents";
  if (passages.length === 0) return `${label}, and no passage in them matches your question.`;
  const parts = passages
    .slice(0, 3)
    .map((p) => `[${p.n}] ${p.filename}${p.page ? `, page ${p.page}` : ""}: ${excerpt(p.text, 600)}`);
  return `${label}:\n\n${parts.join("\n\n")}`;
}

async function conversationFor(ctx: AppContext, userId: string, c: SidebarContext): Promise<string> {
  const [row] = await ctx.db
    .insert(sidebarConversations)
    .values({ userId, projectId: c.project.id, scope: c.scope, scopeId: c.scopeId })
    .onConflictDoUpdate({
      target: [sidebarConversations.userId, sidebarConversations.scope, sidebarConversations.scopeId],
      set: { updatedAt: new Date() },
    })
    .returning({ id: sidebarConversations.id });
  return row!.id;
}

/** The last turns of a conversation, oldest first. */
export async function history(ctx: Pick<AppContext, "db">, conversationId: string, limit = 10) {
  const rows = await ctx.db
    .select()
    .from(sidebarMessages)
    .where(eq(sidebarMessages.conversationId, conversationId))
    .orderBy(desc(sidebarMessages.createdAt))
    .limit(limit);
  return rows.reverse();
}

/** The caller's conversation on a page (for rendering it), or an empty list. */
export async function pageConversation(
  ctx: AppContext,
  principal: Principal | null,
  scope: SidebarScope,
  scopeId: string,
) {
  if (!principal) return [];
  const [conv] = await ctx.db
    .select({ id: sidebarConversations.id })
    .from(sidebarConversations)
    .where(
      and(
        eq(sidebarConversations.userId, principal.userId),
        eq(sidebarConversations.scope, scope),
        eq(sidebarConversations.scopeId, scopeId),
      ),
    );
  if (!conv) return [];
  return ctx.db
    .select()
    .from(sidebarMessages)
    .where(eq(sidebarMessages.conversationId, conv.id))
    .orderBy(asc(sidebarMessages.createdAt))
    .limit(50);
}

/** The page a sidebar sits on: its scope, and the ids its question form sends back. */
export interface SidebarPage {
  scope: SidebarScope;
  scopeId: string;
  projectId: string;
  milestoneId?: string;
  taskId?: string;
}

/** What the sidebar of a page shows: the caller's conversation there, and whether a chat model answers. */
export interface SidebarPanelData extends SidebarPage {
  turns: Array<{ role: "user" | "assistant"; content: string; citations: Citation[]; mode: string | null }>;
  model: boolean;
}

/** Loads the sidebar of a page for the caller (the conversation is theirs alone). */
export async function sidebarPanel(
  ctx: AppContext,
  principal: Principal | null,
  page: SidebarPage,
): Promise<SidebarPanelData> {
  const turns = (await pageConversation(ctx, principal, page.scope, page.scopeId)) as SidebarPanelData["turns"];
  return { ...page, turns, model: hasChatModel(ctx) };
}

/**
 * Answers a sidebar question (spec §3.5.2, §5.7): checks the rate limit and access, retrieves passages of this
 * project only, and streams the model's answer with the page context and this page's earlier turns (history
 * never crosses pages or users). Without a model, or when it fails before answering, the passages themselves
 * are the answer, labelled as such. Question and answer are stored with the citations.
 */
export async function askSidebar(
  ctx: AppContext,
  principal: Principal | null,
  raw: unknown,
  signal?: AbortSignal,
): Promise<SidebarAnswer> {
  if (!principal) throw unauthorized();
  const parsed = SidebarRequest.safeParse(raw);
  if (!parsed.success) throw invalidInput(zodFieldErrors(parsed.error.issues));
  const body = parsed.data;
  takeSidebarToken(ctx, principal.userId);
  const c = await resolveContext(ctx, principal, body);
  const conversationId = await conversationFor(ctx, principal.userId, c);
  const past = await history(ctx, conversationId);
  const query = [body.message, c.task?.title, c.milestone?.title].filter(Boolean).join("\n");
  const { passages } = body.includeDocs
    ? await retrieve(ctx, c.project.id, query, { k: 5, userId: principal.userId, orgId: c.project.orgId })
    : { passages: [] as Passage[] };
  await ctx.db.insert(sidebarMessages).values({ conversationId, role: "user", content: body.message });
  const sources = passages.map(toCitation);
  const mode: SidebarAnswer["mode"] = hasChatModel(ctx) ? "model" : "retrieval";

  let resolveDone!: (v: Awaited<SidebarAnswer["done"]>) => void;
  const done = new Promise<Awaited<SidebarAnswer["done"]>>((r) => {
    resolveDone = r;
  });
  const save = async (text: string, citations: Citation[], m: string, aiCallId: string | null, error?: string) => {
    const [row] = await ctx.db
      .insert(sidebarMessages)
      .values({ conversationId, role: "assistant", content: text, citations, mode: m, aiCallId })
      .returning({ id: sidebarMessages.id });
    resolveDone({ messageId: row!.id, text, citations, error });
  };

  async function* answer(): AsyncGenerator<string> {
    if (mode === "retrieval") {
      const text = retrievalAnswer(passages);
      yield text;
      await save(text, sources.slice(0, 3), "retrieval", null);
      return;
    }
    const messages: ChatMessage[] = past.map((m) => ({ role: m.role, content: m.content }));
    const blocks = [
      pageBlock(c),
      ...passages.map((p) => fence("document", p.text, { n: p.n, file: p.filename, page: p.page })),
    ];
    messages.push({ role: "user", content: `${blocks.join("\n\n")}\n\nQuestion: ${body.message}` });
    const chat = streamChat(
      ctx,
      { purpose: "sidebar", orgId: c.project.orgId, projectId: c.project.id, userId: principal!.userId },
      { system: SIDEBAR_SYSTEM, messages, abortSignal: signal },
    );
    let text = "";
    try {
      for await (const d of chat.deltas) {
        text += d;
        yield d;
      }
    } catch {
      // reported through `done` below
    }
    const result = await chat.done;
    if (result.error && text === "") {
      const fallback = retrievalAnswer(passages, result.error);
      yield fallback;
      await save(fallback, sources.slice(0, 3), "retrieval", result.callId, result.error);
      return;
    }
    const cited = citedNumbers(text, passages.length);
    await save(
      text,
      sources.filter((s) => cited.includes(s.n)),
      "model",
      result.callId,
      result.error,
    );
  }

  return { conversationId, mode, sources, deltas: answer(), done };
}

/** A user's sidebar conversations with every turn, oldest first (GDPR export). */
export async function exportSidebarData(db: Db, userId: string) {
  const convs = await db
    .select()
    .from(sidebarConversations)
    .where(eq(sidebarConversations.userId, userId))
    .orderBy(asc(sidebarConversations.createdAt));
  const turns = convs.length
    ? await db
        .select()
        .from(sidebarMessages)
        .where(
          inArray(
            sidebarMessages.conversationId,
            convs.map((c) => c.id),
          ),
        )
        .orderBy(asc(sidebarMessages.createdAt))
    : [];
  return convs.map((c) => ({ ...c, messages: turns.filter((m) => m.conversationId === c.id) }));
}

/** Deletes a user's sidebar conversations and their turns (account deletion; the model calls are erased apart). */
export async function eraseSidebarData(tx: Db, userId: string): Promise<void> {
  await tx.delete(sidebarConversations).where(eq(sidebarConversations.userId, userId)); // turns cascade
}
