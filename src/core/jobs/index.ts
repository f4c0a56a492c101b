// The durable job queue, its cron registry and the run routes: what other domains import.
//
// Why our own queue and not pg-boss (the maintained choice, which runs on PGlite through its `db` adapter):
// measured with the same scenarios (bench/jobs.ts vs bench/pgboss.ts, 50 jobs in flight), pg-boss 11 completes
// 95–100 jobs/s on PGlite and on PostgreSQL, because a worker waits out its polling interval (0.5 s at least)
// after every batch; with batches of 500 it reaches 740–980/s. This queue completes 4,400–9,200 jobs/s on PGlite
// and 4,900–11,300 on PostgreSQL (targets 300 and 1,000) by starting a job in the process that enqueued it,
// group-committing inserts and completions, and waking workers at once instead of polling.
export { type CronEntryInfo, CronRegistry, createCron, cronKey } from "./cron";
export type { JobEvent, JobListener } from "./events";
export {
  createJobQueue,
  enqueueInTx,
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
