import { z } from "zod";

/** Languages the board filters by, as a task's test command tells them (src/explore/service.ts `LANGUAGE_SQL`). */
export const LANGUAGES = ["JavaScript", "Python", "Go", "Rust", "Java", "Ruby"] as const;
export type Language = (typeof LANGUAGES)[number];

/** How the board can be sorted; payout (in US dollars at the funding price) first by default. */
export const SORTS = ["payout", "points", "newest"] as const;

const optionalNumber = (schema: z.ZodNumber) =>
  z.preprocess(
    (v) => (v === "" || v === undefined || v === null ? undefined : v),
    z.coerce.number().pipe(schema).optional(),
  );

/** The explore board's filters (`GET /explore` and `GET /api/explore` query parameters). */
export const ExploreQuery = z
  .object({
    language: z.enum(LANGUAGES).optional(),
    minPoints: optionalNumber(z.number().int().min(0).max(1_000_000)),
    maxPoints: optionalNumber(z.number().int().min(0).max(1_000_000)),
    minUsd: optionalNumber(z.number().min(0).max(1e12)),
    maxUsd: optionalNumber(z.number().min(0).max(1e12)),
    token: z.string().trim().max(20).optional(),
    repo: z.string().trim().max(200).optional(),
    sort: z.enum(SORTS).default("payout"),
    page: optionalNumber(z.number().int().min(1).max(10_000)),
  })
  .refine((q) => q.minPoints === undefined || q.maxPoints === undefined || q.minPoints <= q.maxPoints, {
    message: "Use a maximum at least as large as the minimum.",
    path: ["maxPoints"],
  })
  .refine((q) => q.minUsd === undefined || q.maxUsd === undefined || q.minUsd <= q.maxUsd, {
    message: "Use a maximum at least as large as the minimum.",
    path: ["maxUsd"],
  });
export type ExploreQuery = z.output<typeof ExploreQuery>;
