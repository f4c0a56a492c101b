import { z } from "zod";
import { uuid } from "../core/http/input";

const line = (max: number) => z.string().trim().min(1).max(max);

/** At most this many named acceptance tests per task (the payout proof carries each one). */
export const MAX_ACCEPTANCE_TESTS = 32;

/** Most tests a task may require to pass: the largest report the payout proof is measured with. */
export const MAX_MIN_PASSING = 100_000;

/** At most this many acceptance test files per task. */
export const MAX_TEST_FILES = 64;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A test id as the harness reports it ("test > src/a.test.ts > adds"): one line, no control characters. */
const testId = z
  .string()
  .trim()
  .min(1)
  .max(300)
  .refine((v) => !CONTROL.test(v), "A test id cannot contain control characters.");

/** A repository path: relative, forward slashes, no `..`, no control characters. */
export const repoPath = z
  .string()
  .trim()
  .min(1)
  .max(300)
  .refine((v) => !CONTROL.test(v), "A path cannot contain control characters.")
  .refine(
    (v) => !v.startsWith("/") && !/^[A-Za-z]:/.test(v) && !v.includes("\\"),
    "Give a path relative to the repository root.",
  )
  .refine(
    (v) => !v.split("/").some((s) => s === ".." || s === "." || s === ""),
    "A path cannot contain .., . or empty parts.",
  );

/** Refuses a list that names one entry twice, naming it. */
const once = (what: string) => (xs: string[], c: z.RefinementCtx) => {
  const dup = xs.find((x, i) => xs.indexOf(x) !== i);
  if (dup) c.addIssue({ code: "custom", message: `The ${what} “${dup.slice(0, 80)}” is named twice.` });
};

/** The acceptance tests a sponsor names for a task: test ids (each must run and pass) and test files. */
export const acceptanceTests = z
  .array(testId)
  .max(MAX_ACCEPTANCE_TESTS)
  .superRefine(once("test"))
  .describe(`test ids that must run and pass (at most ${MAX_ACCEPTANCE_TESTS}); empty: every test must pass`);
/** The acceptance test files of a task (repository paths). */
export const testFiles = z
  .array(repoPath)
  .max(MAX_TEST_FILES)
  .superRefine(once("file"))
  .describe("repository paths of the acceptance test files, put over the contributor's checkout");

/** How the harness verifies a task (spec §3.1.4 "verification rules"). */
export const PlannedVerification = z
  .object({
    // The payout proof counts every test of the report (each is its own leaf) and needs at least one passed; the
    // circuit takes counts below 2^32, and the proof is measured up to reports of 100,000 tests.
    minPassingTests: z
      .number()
      .int()
      .min(1)
      .max(MAX_MIN_PASSING)
      .describe(`tests that must pass for the task to count as done (1–${MAX_MIN_PASSING.toLocaleString("en-US")})`),
    testCommand: z
      .string()
      .trim()
      .max(300)
      .describe("the command that runs the tests, e.g. `bun test`; empty to detect"),
    rules: z.array(line(300)).max(10).describe("further checks a reviewer or the harness applies"),
    acceptanceTests: acceptanceTests.optional(),
    testFiles: testFiles.optional(),
  })
  .strict();

/** A task (task) in a plan. */
export const PlannedTask = z
  .object({
    title: line(200),
    description: z.string().trim().max(4000),
    points: z.number().int().min(1).max(100).describe("effort in points: 1 trivial … 13 large; one contributor task"),
    acceptanceCriteria: z.array(line(500)).min(1).max(12),
    verification: PlannedVerification,
    estimatedHours: z.number().int().min(1).max(1000).nullish(),
  })
  .strict();

/** A milestone in a plan. */
export const PlannedMilestone = z
  .object({
    title: line(200),
    description: z.string().trim().max(4000),
    acceptanceCriteria: z.array(line(500)).max(12),
    tasks: z.array(PlannedTask).min(1).max(15),
  })
  .strict();

/**
 * A whole milestone structure: what the planner must produce (strict: unknown fields are refused, spec §7.8)
 * and what every stored draft version holds.
 */
export const Plan = z
  .object({
    milestones: z.array(PlannedMilestone).min(1).max(12),
  })
  .strict();

/** The planner's answer when one milestone is regenerated. */
export const OneMilestonePlan = z.object({ milestone: PlannedMilestone }).strict();

export type PlannedTask = z.infer<typeof PlannedTask>;
export type PlannedMilestone = z.infer<typeof PlannedMilestone>;
export type Plan = z.infer<typeof Plan>;

const criteria = z.array(line(500)).max(12, "Use at most 12 criteria, one per line.");

/** Body of `PATCH /api/milestones/:id`. `points` rescales its tasks; `order` is the 1-based position. */
export const MilestoneUpdateRequest = z
  .object({
    title: line(200).optional(),
    description: z.string().max(4000).optional(),
    points: z.coerce.number().int().min(1).max(10_000).optional(),
    acceptanceCriteria: criteria.optional(),
    verificationRules: z.array(line(300)).max(10).optional(),
    estimatedHours: z.coerce.number().int().min(1).max(10_000).nullable().optional(),
    order: z.coerce.number().int().min(1).optional(),
  })
  .strict();

/** Body of `POST /api/projects/:id/milestones`. */
export const MilestoneCreateRequest = z
  .object({
    title: line(200),
    description: z.string().max(4000).default(""),
    acceptanceCriteria: criteria.default([]),
  })
  .strict();

/** Body of `PATCH /api/tasks/:id`. */
export const TaskUpdateRequest = z
  .object({
    title: line(200).optional(),
    description: z.string().max(4000).optional(),
    points: z.coerce.number().int().min(1).max(100).optional(),
    acceptanceCriteria: criteria.min(1).optional(),
    verification: PlannedVerification.partial().optional(),
    estimatedHours: z.coerce.number().int().min(1).max(1000).nullable().optional(),
    order: z.coerce.number().int().min(1).optional(),
  })
  .strict();

/** Body of `POST /api/milestones/:id/tasks`. */
export const TaskCreateRequest = z
  .object({
    title: line(200),
    description: z.string().max(4000).default(""),
    points: z.coerce.number().int().min(1).max(100),
    acceptanceCriteria: criteria.min(1).default(["The change is merged with passing tests."]),
    verification: PlannedVerification.partial().optional(),
    estimatedHours: z.coerce.number().int().min(1).max(1000).nullable().optional(),
  })
  .strict();

/**
 * Body of `PUT /api/tasks/:id/acceptance`: the task's acceptance tests and suite command. After the plan is
 * approved this re-pins the task to the base branch's head.
 */
export const AcceptanceUpdateRequest = z
  .object({
    acceptanceTests: acceptanceTests.default([]),
    testFiles: testFiles.default([]),
    testCommand: z.string().trim().max(300).optional(),
  })
  .strict();
export type AcceptanceUpdateRequest = z.infer<typeof AcceptanceUpdateRequest>;

/** Body of `POST /api/projects/:id/milestones/reorder`: every milestone id, in the new order. */
export const ReorderRequest = z.object({ ids: z.array(uuid()).min(1).max(100) }).strict();
