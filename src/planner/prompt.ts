import { DATA_RULE, fence, joinSystem, type ChatMessage, systemPrompt } from "../ai/prompt";
import type { Passage } from "../documents/service";
import type { Plan, PlannedMilestone } from "../milestones/model";
import type { RepoSnapshot } from "./repo-snapshot";
import type { Stack } from "./template";

const RULES = systemPrompt`
You are the milestone planner of DevSponsor, where sponsors fund software projects and contributors are paid per
task once automated tests verify their work. Break the project into milestones, and each milestone into
tasks (tasks) that one contributor can finish in days, not weeks.

Rules:
- Every task has points for its effort: 1 trivial, 2 small, 3 medium, 5 large, 8 very large, 13 the most. Integers only.
- Every task has concrete, testable acceptance criteria.
- Every task has verification rules: the minimum number of passing tests (1 to 64), the test command, and further checks.
- Every task names its acceptance tests: up to 8 test ids as the test runner reports them ("<test file> > <test name>"),
  each distinct, and the repository paths of their test files (relative paths, no ".."). Follow the repository's
  layout for where tests live.
- Order milestones so each builds on the ones before. Prefer 3 to 6 milestones with 2 to 6 tasks each.
- Write plain English. Do not invent features the project does not ask for.
- Answer with one JSON object and nothing else: no prose, no code fences, no fields beyond the schema.`;

const FULL_SHAPE = systemPrompt`
The JSON has exactly this shape:
{"milestones":[{"title":string,"description":string,"acceptanceCriteria":[string],"tasks":[{"title":string,
"description":string,"points":integer,"acceptanceCriteria":[string],"verification":{"minPassingTests":integer,
"testCommand":string,"rules":[string],"acceptanceTests":[string],"testFiles":[string]},
"estimatedHours":integer or null}]}]}`;

const ONE_SHAPE = systemPrompt`
You regenerate ONE milestone of an existing plan; the others stay as they are.
The JSON has exactly this shape:
{"milestone":{"title":string,"description":string,"acceptanceCriteria":[string],"tasks":[{"title":string,
"description":string,"points":integer,"acceptanceCriteria":[string],"verification":{"minPassingTests":integer,
"testCommand":string,"rules":[string],"acceptanceTests":[string],"testFiles":[string]},
"estimatedHours":integer or null}]}}`;

/** The planner's system prompt for a whole plan. */
export const PLANNER_SYSTEM = joinSystem(RULES, FULL_SHAPE, DATA_RULE);
/** The planner's system prompt for regenerating one milestone. */
export const PLANNER_ONE_SYSTEM = joinSystem(RULES, ONE_SHAPE, DATA_RULE);

/** Everything the planner knows about a project. */
export interface PlannerContext {
  title: string;
  description: string;
  repo: RepoSnapshot | null;
  stack: Stack;
  passages: Passage[];
  /** The current structure, when regenerating. */
  previous: Plan | null;
}

function contextBlocks(c: PlannerContext): string[] {
  const blocks = [fence("project", `Title: ${c.title}\n\n${c.description || "(no description)"}`)];
  if (c.repo) {
    if (c.repo.readme) blocks.push(fence("readme", c.repo.readme, { path: c.repo.readmePath }));
    blocks.push(
      fence("file-tree", c.repo.files.join("\n") + (c.repo.truncated ? "\n…" : ""), { files: c.repo.files.length }),
    );
  }
  for (const p of c.passages)
    blocks.push(fence("document", p.text, { file: p.filename, page: p.page, section: p.heading }));
  return blocks;
}

function testHint(c: PlannerContext) {
  return c.stack.testCommand
    ? `The repository looks like a ${c.stack.name} project; its tests run with: ${c.stack.testCommand}`
    : "The repository's test command is unknown; leave testCommand empty unless the data names one.";
}

/** The user message asking for a whole plan. */
export function planRequest(c: PlannerContext): ChatMessage[] {
  const parts = ["Plan the milestones of the project described in the data below.", testHint(c), ...contextBlocks(c)];
  if (c.previous) {
    parts.push(
      "A previous draft exists. Improve on it; keep what is good.",
      fence("previous-draft", JSON.stringify(c.previous)),
    );
  }
  return [{ role: "user", content: parts.join("\n\n") }];
}

/** The user message asking to regenerate milestone `index` (0-based) of the current plan. */
export function oneMilestoneRequest(
  c: PlannerContext,
  current: Plan,
  index: number,
  milestone: PlannedMilestone,
): ChatMessage[] {
  const parts = [
    `Regenerate milestone number ${index + 1} of the current plan below; keep its purpose, improve its tasks.`,
    testHint(c),
    ...contextBlocks(c),
    fence("current-plan", JSON.stringify(current)),
    fence("milestone-to-regenerate", JSON.stringify(milestone)),
  ];
  return [{ role: "user", content: parts.join("\n\n") }];
}

/** The follow-up asking the model to fix its own invalid answer. */
export function repairRequest(errors: string[]): ChatMessage {
  return {
    role: "user",
    content:
      "Your answer does not match the required JSON shape. Problems found:\n" +
      errors.map((e) => `- ${e}`).join("\n") +
      "\nReturn the corrected JSON object only, with no fields beyond the shape.",
  };
}
