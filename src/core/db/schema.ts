// Every domain's tables, in one place for drizzle-kit and the typed client. Add one line per domain.
export * from "../jobs/schema";
export * from "../settings/schema";
export * from "../../users/schema";
export * from "../../auth/schema";
export * from "../../orgs/schema";
export * from "../../invites/schema";
export * from "../../notifications/schema";
export * from "../../audit/schema";
export * from "../../projects/schema";
export * from "../../milestones/schema";
export * from "../../ai/schema";
export * from "../../documents/schema";
export * from "../../sidebar/schema";
export * from "../../chain/schema";
export * from "../../zk/schema";
export * from "../../funding/schema";
export * from "../../payments/schema";
