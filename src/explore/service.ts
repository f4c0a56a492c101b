// The explore board (spec: a public list of funded work): open tasks of active, public projects across every org,
// with each payout in tokens and in US dollars at the oracle price the project's deposit was confirmed with.
import { and, desc, eq, isNull, type SQL, sql } from "drizzle-orm";
import { formatUnits } from "viem";
import type { Db } from "../core/db";
import { invalidInput, unauthorized, zodFieldErrors } from "../core/errors";
import { fundingRecords } from "../funding/schema";
import { milestones, tasks } from "../milestones/schema";
import { isUuid } from "../orgs/permissions";
import { orgs } from "../orgs/schema";
import { projects } from "../projects/schema";
import { ExploreQuery, type Language } from "./model";

/** Tasks per page of the board. */
export const PAGE_SIZE = 25;

/**
 * A task's language, from the test command its verification runs (the template planner fills it from the
 * repository's files; an empty command means the harness detects it, and the board shows no language).
 */
const command = sql`coalesce(${tasks.verification}->>'testCommand', '')`;
export const LANGUAGE_SQL = sql<Language | null>`case
  when ${command} ~ '^(bun|npm|pnpm|yarn|npx|node|deno|vitest|jest)(\\s|$)' then 'JavaScript'
  when ${command} ~ '^(pytest|python3?|tox|uv|poetry|nox)(\\s|$)' then 'Python'
  when ${command} ~ '^go(\\s|$)' then 'Go'
  when ${command} ~ '^cargo(\\s|$)' then 'Rust'
  when ${command} ~ '^(mvn|gradle|\\./mvnw|\\./gradlew)(\\s|$)' then 'Java'
  when ${command} ~ '^(bundle|rake|rspec)(\\s|$)' then 'Ruby'
  else null end`;

/**
 * Payout in US dollars at the price of the project's newest confirmed deposit (the oracle answer recorded with
 * it): base units × price ÷ 10^(token decimals + price decimals); null without a priced deposit.
 */
const usdSql = sql<string | null>`(select ${tasks.payoutAmount} * ${fundingRecords.oracleRate}
  / power(10::numeric, ${projects.tokenDecimals} + ${fundingRecords.oracleDecimals})
  from ${fundingRecords} where ${fundingRecords.projectId} = ${projects.id}
  order by ${fundingRecords.createdAt} desc limit 1)`;

/** The token a project pays in, as the board names it (the native coin has no symbol stored). */
const tokenSql = sql<string>`coalesce(nullif(${projects.tokenSymbol}, ''), 'ETH')`;

/** What the board and the public task page read of a task's project, payout and language. */
const taskColumns = {
  language: LANGUAGE_SQL,
  projectId: projects.id,
  projectTitle: projects.title,
  repoFullName: projects.repoFullName,
  repoUrl: projects.repoUrl,
  tokenDecimals: projects.tokenDecimals,
  token: tokenSql,
  usd: sql<string | null>`round(${usdSql}, 2)::text`,
};

/** One task on the board. */
export interface ExploreTask {
  id: string;
  title: string;
  points: number;
  language: Language | null;
  project: { id: string; title: string; repository: string | null };
  token: string;
  /** Base units, and the same amount in whole tokens for display. */
  payoutAmount: string;
  payout: string;
  /** US dollars at the funding price, rounded to cents; null when no priced deposit is recorded. */
  usd: number | null;
  createdAt: Date;
}

/** A page of the board with the filters applied. */
export interface ExplorePage {
  query: ExploreQuery;
  tasks: ExploreTask[];
  total: number;
  page: number;
  pages: number;
  pageSize: number;
  /** Tokens of the funded public projects, for the token filter. */
  tokens: string[];
}

/** Parses the board's query parameters (strings from a URL), or throws INVALID_INPUT with the fields' errors. */
export function parseExploreQuery(raw: unknown): ExploreQuery {
  const parsed = ExploreQuery.safeParse(raw ?? {});
  if (!parsed.success) throw invalidInput(zodFieldErrors(parsed.error.issues));
  return parsed.data;
}

/**
 * The board: OPEN tasks with a payout, of ACTIVE projects whose repository is PUBLIC, of orgs not archived.
 * Anyone may read it, signed in or not; private projects never appear, whoever asks.
 */
export async function exploreTasks(db: Db, raw: unknown): Promise<ExplorePage> {
  const q = parseExploreQuery(raw);
  const visible = [
    eq(projects.state, "ACTIVE"),
    eq(projects.repoVisibility, "PUBLIC"),
    isNull(orgs.archivedAt),
    eq(tasks.status, "OPEN"),
    sql`${tasks.payoutAmount} is not null`,
  ];
  const filters: SQL[] = [];
  if (q.language) filters.push(sql`${LANGUAGE_SQL} = ${q.language}`);
  if (q.minPoints !== undefined) filters.push(sql`${tasks.points} >= ${q.minPoints}`);
  if (q.maxPoints !== undefined) filters.push(sql`${tasks.points} <= ${q.maxPoints}`);
  if (q.minUsd !== undefined) filters.push(sql`${usdSql} >= ${String(q.minUsd)}::numeric`);
  if (q.maxUsd !== undefined) filters.push(sql`${usdSql} <= ${String(q.maxUsd)}::numeric`);
  if (q.token) filters.push(sql`lower(${tokenSql}) = lower(${q.token})`);
  if (q.repo) {
    const like = `%${q.repo.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    filters.push(
      sql`(coalesce(${projects.repoFullName}, '') ilike ${like} or coalesce(${projects.repoUrl}, '') ilike ${like} or ${projects.title} ilike ${like})`,
    );
  }
  const order =
    q.sort === "points"
      ? [desc(tasks.points), sql`${usdSql} desc nulls last`]
      : q.sort === "newest"
        ? [desc(tasks.createdAt)]
        : [sql`${usdSql} desc nulls last`, desc(tasks.payoutAmount)];
  const page = q.page ?? 1;
  const where = and(...visible, ...filters);
  const [rows, tokenRows] = await Promise.all([
    db
      .select({
        id: tasks.id,
        title: tasks.title,
        points: tasks.points,
        payoutAmount: tasks.payoutAmount,
        createdAt: tasks.createdAt,
        ...taskColumns,
        total: sql<number>`count(*) over ()::int`,
      })
      .from(tasks)
      .innerJoin(projects, eq(projects.id, tasks.projectId))
      .innerJoin(orgs, eq(orgs.id, projects.orgId))
      .where(where)
      .orderBy(...order, tasks.id)
      .limit(PAGE_SIZE)
      .offset((page - 1) * PAGE_SIZE),
    db
      .selectDistinct({ token: tokenSql })
      .from(projects)
      .innerJoin(orgs, eq(orgs.id, projects.orgId))
      .where(and(eq(projects.state, "ACTIVE"), eq(projects.repoVisibility, "PUBLIC"), isNull(orgs.archivedAt)))
      .orderBy(tokenSql)
      .limit(50),
  ]);
  const total = rows[0]?.total ?? (page > 1 ? await countBoard(db, where) : 0);
  return {
    query: q,
    tasks: rows.map((r) => ({
      id: r.id,
      title: r.title,
      points: r.points,
      language: r.language,
      project: { id: r.projectId, title: r.projectTitle, repository: r.repoFullName ?? publicRepoUrl(r.repoUrl) },
      token: r.token,
      payoutAmount: r.payoutAmount!,
      payout: formatUnits(BigInt(r.payoutAmount!), r.tokenDecimals),
      usd: r.usd === null ? null : Number(r.usd),
      createdAt: r.createdAt,
    })),
    total,
    page,
    pages: Math.max(1, Math.ceil(total / PAGE_SIZE)),
    pageSize: PAGE_SIZE,
    tokens: tokenRows.map((t) => t.token),
  };
}

/** The number of matching tasks when the page asked for lies past the end (no row carries the count then). */
async function countBoard(db: Db, where: SQL | undefined): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(tasks)
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .innerJoin(orgs, eq(orgs.id, projects.orgId))
    .where(where);
  return row?.n ?? 0;
}

/** A repository URL shown to the public: web URLs only, never a server's local path. */
function publicRepoUrl(url: string | null): string | null {
  return url && /^https?:\/\//.test(url) ? url.replace(/^https?:\/\//, "").replace(/\.git$/, "") : null;
}

/** A task as a signed-out visitor sees it: the board's facts, what is asked, and whether it is still open. */
export interface PublicTask extends Omit<ExploreTask, "payoutAmount" | "payout" | "usd" | "language"> {
  description: string;
  acceptanceCriteria: string[];
  status: string;
  milestone: string;
  language: Language | null;
  payout: string | null;
  usd: number | null;
}

/**
 * One task of a PUBLIC project (of an org not archived) for a signed-out visitor, whatever its status; anything
 * else is UNAUTHORIZED, as a missing task, so the visitor is asked to sign in and private work does not leak.
 */
export async function publicTask(db: Db, taskId: string): Promise<PublicTask> {
  if (!isUuid(taskId)) throw unauthorized();
  const [r] = await db
    .select({
      id: tasks.id,
      title: tasks.title,
      description: tasks.description,
      acceptanceCriteria: tasks.acceptanceCriteria,
      status: tasks.status,
      points: tasks.points,
      payoutAmount: tasks.payoutAmount,
      createdAt: tasks.createdAt,
      milestone: milestones.title,
      ...taskColumns,
    })
    .from(tasks)
    .innerJoin(milestones, eq(milestones.id, tasks.milestoneId))
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .innerJoin(orgs, eq(orgs.id, projects.orgId))
    .where(and(eq(tasks.id, taskId), eq(projects.repoVisibility, "PUBLIC"), isNull(orgs.archivedAt)));
  if (!r) throw unauthorized();
  return {
    id: r.id,
    title: r.title,
    description: r.description,
    acceptanceCriteria: r.acceptanceCriteria,
    status: r.status,
    milestone: r.milestone,
    points: r.points,
    language: r.language,
    project: { id: r.projectId, title: r.projectTitle, repository: r.repoFullName ?? publicRepoUrl(r.repoUrl) },
    token: r.token,
    payout: r.payoutAmount ? formatUnits(BigInt(r.payoutAmount), r.tokenDecimals) : null,
    usd: r.usd === null ? null : Number(r.usd),
    createdAt: r.createdAt,
  };
}

/** A board task as the JSON API returns it. */
export function exploreTaskJson(t: ExploreTask) {
  return { ...t, createdAt: t.createdAt.toISOString() };
}
