import { sql } from "drizzle-orm";
import { boolean, check, index, integer, numeric, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { orgs } from "../orgs/schema";
import { users } from "../users/schema";

/** A project's life: drafted and planned, funded and worked on, done (spec §4.2.5). */
export type ProjectState = "DRAFT" | "ACTIVE" | "COMPLETED";
export type RepoVisibility = "PUBLIC" | "PRIVATE";
export type FundingMode = "ESCROW" | "YIELD";
/** `github`: github.com or a GitHub Enterprise Server; `git`: any other git URL or a local path. */
export type RepoProvider = "github" | "git";

/** Projects of an organization: what is being built, where its code lives, and how it is paid for. */
export const projects = pgTable(
  "projects",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    /** Free text; also the planner's prompt. */
    description: text("description").notNull().default(""),
    repoUrl: text("repo_url"),
    repoProvider: text("repo_provider").$type<RepoProvider>(),
    /** github.com or the GitHub Enterprise host. */
    repoHost: text("repo_host"),
    /** `owner/name` as last seen; it changes on rename or transfer, `repo_provider_id` does not. */
    repoFullName: text("repo_full_name"),
    /** GitHub's numeric repository id: the stable link that survives renames and transfers. */
    repoProviderId: text("repo_provider_id"),
    repoVisibility: text("repo_visibility").$type<RepoVisibility>().notNull().default("PUBLIC"),
    /** ERC-20 contract address; null means the chain's native coin. */
    tokenAddress: text("token_address"),
    tokenSymbol: text("token_symbol"),
    tokenDecimals: integer("token_decimals").notNull().default(18),
    fundingMode: text("funding_mode").$type<FundingMode>().notNull().default("ESCROW"),
    state: text("state").$type<ProjectState>().notNull().default("DRAFT"),
    /** A maintainer approves each verified task before it is paid (otherwise a passed verification pays). */
    payoutReview: boolean("payout_review").notNull().default(false),
    /** When a claimer's repository access ends after the task is paid: REMOVE (default) or KEEP it. */
    repoAccessAfterPayment: text("repo_access_after_payment").$type<"REMOVE" | "KEEP">().notNull().default("REMOVE"),
    /** 2 runs every verification twice: a test that changes verdict is flaky and the task waits for the sponsor. */
    verificationRuns: integer("verification_runs").notNull().default(1),
    /** Σ task points, fixed when the structure is approved. */
    totalPoints: integer("total_points").notNull().default(0),
    /** Token amount in base units, set by funding. */
    totalTokenAmount: numeric("total_token_amount", { precision: 78, scale: 0 }),
    structureApprovedAt: timestamp("structure_approved_at", { withTimezone: true }),
    structureApprovedById: uuid("structure_approved_by_id").references(() => users.id),
    createdById: uuid("created_by_id").references(() => users.id),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("projects_org_idx").on(t.orgId),
    index("projects_repo_url_idx").on(t.repoUrl),
    index("projects_repo_provider_id_idx").on(t.repoHost, t.repoProviderId),
    check("projects_state_check", sql`${t.state} in ('DRAFT', 'ACTIVE', 'COMPLETED')`),
    check("projects_repo_visibility_check", sql`${t.repoVisibility} in ('PUBLIC', 'PRIVATE')`),
    check("projects_funding_mode_check", sql`${t.fundingMode} in ('ESCROW', 'YIELD')`),
    check("projects_token_decimals_check", sql`${t.tokenDecimals} between 0 and 36`),
    check("projects_total_points_check", sql`${t.totalPoints} >= 0`),
    check("projects_repo_access_after_payment_check", sql`${t.repoAccessAfterPayment} in ('REMOVE', 'KEEP')`),
    check("projects_verification_runs_check", sql`${t.verificationRuns} in (1, 2)`),
  ],
);

export type Project = typeof projects.$inferSelect;
