// The durable job queue, its cron registry and the run routes: what other domains import.
export { type CronEntryInfo, CronRegistry, createCron, cronKey } from "./cron";
export type { JobEvent, JobListener } from "./events";
export {
  createJobQueue,
  type DefineOptions,
  type EnqueueOptions,
  type EnqueueResult,
  FatalJobError,
  type Job,
  type JobDefinition,
  type JobHandler,
  JobQueue,
  type JobQueueOptions,
  type RunContext,
} from "./queue";
export { allowRunsWithoutOrg, jobRoutes, type JobRoutesDeps, publicRun } from "./routes";
export { JOB_STATES, type JobState } from "./schema";
