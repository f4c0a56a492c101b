import { z } from "zod";

export const USER_ROLES = ["SPONSOR", "CONTRIBUTOR"] as const;

/** Body of PATCH /api/me. */
export const MeUpdateRequest = z
  .object({
    name: z.string().trim().min(1, "Enter your name.").max(100, "Use at most 100 characters."),
    roles: z.array(z.enum(USER_ROLES)).max(2),
    preferences: z.object({ emailNotifications: z.boolean() }).partial().strict(),
  })
  .partial()
  .strict();
export type MeUpdateRequest = z.infer<typeof MeUpdateRequest>;

/** Body of POST /api/me/wallets/challenge: the address to link and its chain. */
export const WalletChallengeRequest = z.object({
  address: z
    .string()
    .trim()
    .regex(/^0x[0-9a-fA-F]{40}$/, "Not an EVM address."),
  chainId: z.coerce.number().int().positive().default(1),
});

/** Body of POST /api/me/wallets: the signed EIP-4361 message. */
export const WalletLinkRequest = z.object({
  message: z.string().min(50).max(4000),
  signature: z
    .string()
    .trim()
    .regex(/^0x[0-9a-fA-F]+$/, "Not a hex signature."),
});

/** Body of DELETE /api/me: the user types DELETE to confirm. */
export const DeleteAccountRequest = z.object({
  confirm: z.literal("DELETE", { message: 'Type "DELETE" to confirm.' }),
});
