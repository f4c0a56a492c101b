// Every domain's tables, in one place for drizzle-kit and the typed client. Add one line per domain.
// jobs: export * from "../jobs/schema";
export * from "../settings/schema";
