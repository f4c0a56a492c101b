// The GDPR hooks of tables that only link a user to something of an org or a project (a membership, repository
// access, an uploaded document, a webhook endpoint). Like org memberships in ./service.ts, they are exported and
// erased here from the tables alone; domains with personal data of their own (tasks, sidebar, model calls)
// register their hooks in their own setup.
import { and, eq, sql } from "drizzle-orm";
import { documents } from "../documents/schema";
import { githubAccess, githubManifestStates } from "../github/schema";
import { projectMembers, projectRepoAccess } from "../projects/members-schema";
import { webhookEndpoints } from "../webhooks/schema";
import { registerUserDataHook } from "./data-hooks";

/** Registers the hooks of the linking tables; called once at boot from setupDomains. */
export function registerLinkedUserData() {
  registerUserDataHook({
    name: "projectMemberships",
    covers: ["project_members.user_id"],
    export: (db, userId) =>
      db
        .select({ projectId: projectMembers.projectId, role: projectMembers.role, createdAt: projectMembers.createdAt })
        .from(projectMembers)
        .where(eq(projectMembers.userId, userId)),
    // the repository access given for them is taken away by the access sync, which sees the membership gone
    erase: (tx, userId) => tx.delete(projectMembers).where(eq(projectMembers.userId, userId)),
  });
  registerUserDataHook({
    name: "repositoryAccess",
    covers: ["github_access.user_id", "project_repo_access.user_id", "github_manifest_states.user_id"],
    export: async (db, userId) => ({
      forTasks: await db
        .select({
          taskId: githubAccess.taskId,
          repoId: githubAccess.repoId,
          login: githubAccess.login,
          state: githubAccess.state,
          createdAt: githubAccess.createdAt,
          updatedAt: githubAccess.updatedAt,
        })
        .from(githubAccess)
        .where(eq(githubAccess.userId, userId)),
      forProjects: await db
        .select({
          projectId: projectRepoAccess.projectId,
          repoId: projectRepoAccess.repoId,
          login: projectRepoAccess.login,
          state: projectRepoAccess.state,
          createdAt: projectRepoAccess.createdAt,
          updatedAt: projectRepoAccess.updatedAt,
        })
        .from(projectRepoAccess)
        .where(eq(projectRepoAccess.userId, userId)),
    }),
    erase: async (tx, userId) => {
      // Open access records stay until the access sync has taken the collaborator away (it needs the login);
      // the claims and memberships that gave them are gone, so the sync removes them.
      await tx.delete(githubAccess).where(and(eq(githubAccess.userId, userId), eq(githubAccess.state, "REMOVED")));
      await tx
        .delete(projectRepoAccess)
        .where(and(eq(projectRepoAccess.userId, userId), eq(projectRepoAccess.state, "REMOVED")));
      await tx.delete(githubManifestStates).where(eq(githubManifestStates.userId, userId));
    },
  });
  registerUserDataHook({
    name: "documentsUploaded",
    covers: ["documents.uploaded_by_id"],
    export: (db, userId) =>
      db
        .select({
          id: documents.id,
          projectId: documents.projectId,
          filename: documents.filename,
          sizeBytes: documents.sizeBytes,
          createdAt: documents.createdAt,
        })
        .from(documents)
        .where(eq(documents.uploadedById, userId)),
    // the documents are the project's: only who uploaded them is forgotten
    erase: (tx, userId) => tx.update(documents).set({ uploadedById: null }).where(eq(documents.uploadedById, userId)),
  });
  registerUserDataHook({
    name: "webhookEndpointsCreated",
    covers: ["webhook_endpoints.created_by_id"],
    export: (db, userId) =>
      db
        .select({
          id: webhookEndpoints.id,
          orgId: webhookEndpoints.orgId,
          name: webhookEndpoints.name,
          format: webhookEndpoints.format,
          createdAt: webhookEndpoints.createdAt,
        })
        .from(webhookEndpoints)
        .where(eq(webhookEndpoints.createdById, userId)),
    // the endpoint is the org's and keeps working: only who made it is forgotten
    erase: (tx, userId) =>
      tx
        .update(webhookEndpoints)
        .set({ createdById: null, updatedAt: sql`now()` })
        .where(eq(webhookEndpoints.createdById, userId)),
  });
}
