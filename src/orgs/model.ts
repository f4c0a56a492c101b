import { z } from "zod";
import { ORG_ROLES } from "./permissions";

/** Body of POST /api/orgs (and the new-org form). */
export const OrgCreateRequest = z.object({
  name: z.string().trim().min(1, "Enter a name.").max(100, "Use at most 100 characters."),
  description: z.string().trim().max(2000, "Use at most 2000 characters.").nullish(),
});
export type OrgCreateRequest = z.infer<typeof OrgCreateRequest>;

/** Body of PATCH /api/orgs/:id. */
export const OrgUpdateRequest = OrgCreateRequest.partial();
export type OrgUpdateRequest = z.infer<typeof OrgUpdateRequest>;

/** Body of PATCH /api/orgs/:id/members/:userId. */
export const MemberRoleRequest = z.object({ role: z.enum(ORG_ROLES) });
