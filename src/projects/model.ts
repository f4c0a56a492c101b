import { z } from "zod";

const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .nullish()
    .transform((v) => (v ? v : null));

const address = z
  .string()
  .trim()
  .regex(/^0x[0-9a-fA-F]{40}$/, "Enter a contract address: 0x and 40 hex digits, or nothing for the native coin.")
  .nullish()
  .or(z.literal(""))
  .transform((v) => (v ? v : null));

const decimals = z.coerce.number().int().min(0).max(36);

/** A yes/no field: a JSON boolean, or an HTML checkbox ("on" when ticked). */
const checkbox = z.union([z.boolean(), z.literal("on").transform(() => true)]);

/** How many times each verification runs: 2 reports a test that changes verdict as flaky (the task then waits). */
const verificationRuns = z.coerce.number().int().min(1).max(2);

/** Body of `POST /api/orgs/:id/projects` and the new-project form. */
export const ProjectCreateRequest = z
  .object({
    title: z.string().trim().min(1, "Give the project a title.").max(200),
    description: z.string().max(20_000).default(""),
    repoUrl: optionalText(500),
    repoType: z.enum(["PUBLIC", "PRIVATE"]).default("PUBLIC"),
    tokenAddress: address,
    tokenSymbol: optionalText(20),
    tokenDecimals: z.union([decimals, z.literal("").transform(() => undefined)]).optional(),
    fundingMode: z.enum(["ESCROW", "YIELD"]).default("ESCROW"),
    payoutReview: checkbox.default(false),
    verificationRuns: verificationRuns.default(1),
  })
  .strict()
  .refine((p) => !p.tokenAddress || p.tokenDecimals !== undefined, {
    path: ["tokenDecimals"],
    message: "Enter the token's decimals: an ERC-20 token needs them (18 for most).",
  });
export type ProjectCreateRequest = z.input<typeof ProjectCreateRequest>;

/** Body of `PATCH /api/projects/:id`; repository, token and funding mode change only while in DRAFT. */
export const ProjectUpdateRequest = z
  .object({
    title: z.string().trim().min(1, "Give the project a title.").max(200).optional(),
    description: z.string().max(20_000).optional(),
    repoUrl: optionalText(500).optional(),
    repoType: z.enum(["PUBLIC", "PRIVATE"]).optional(),
    tokenAddress: address.optional(),
    tokenSymbol: optionalText(20).optional(),
    tokenDecimals: decimals.optional(),
    fundingMode: z.enum(["ESCROW", "YIELD"]).optional(),
    payoutReview: checkbox.optional(),
    verificationRuns: verificationRuns.optional(),
    /** When a claimer's repository access ends after payment: REMOVE (default) or KEEP. */
    repoAccessAfterPayment: z.enum(["REMOVE", "KEEP"], { message: "Choose REMOVE or KEEP." }).optional(),
  })
  .strict();
export type ProjectUpdateRequest = z.input<typeof ProjectUpdateRequest>;
