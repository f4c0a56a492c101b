// The escrow contract on both EVMs: payments, replay, binding of proof and attestation, funds, yield, closing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Address, type Hex, parseEther, zeroAddress } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import {
  attestationOf,
  deployForTest,
  OTHER_PAYEE,
  PAYEE,
  type ProvenClaim,
  proveClaim,
  registerForTest,
  relayedChain,
  sign,
  TEST_CHAINS,
  TEST_FEES,
  type TestChain,
} from "../../test/support/chain";
import { AppError } from "../core/errors";
import { escrowError, releaseArgs, submitRelease } from "../payments/release";
import { onChainProjectId } from "../zk/attestation";
import { DevToken, ProjectEscrow } from "./contracts.gen";
import { decodeRevert } from "./revert";
import type { Deployment } from "./deploy";

// Proofs do not depend on the chain or the project (the attestation binds those), so both chains share them.
// Proving takes seconds each: one proof per role, made once.
let nativeClaim: ProvenClaim;
let tokenClaim: ProvenClaim;
let yieldClaim: ProvenClaim;
let bindClaim: ProvenClaim; // paid after the binding checks
let spareClaim: ProvenClaim; // never paid: used for refusals only
let pauseClaim: ProvenClaim;

beforeAll(async () => {
  nativeClaim = await proveClaim("task-native", PAYEE, parseEther("1.5"));
  tokenClaim = await proveClaim("task-token", PAYEE, 123_456_789n);
  yieldClaim = await proveClaim("task-yield", OTHER_PAYEE, 50_000_000n);
  bindClaim = await proveClaim("task-bind", PAYEE, parseEther("1"));
  spareClaim = await proveClaim("task-spare", PAYEE, parseEther("1"));
  pauseClaim = await proveClaim("task-pause", PAYEE, parseEther("1"));
}, 300_000);

/** The custom error name a failed call reverted with, from whatever shape the node reported it in. */
async function revertName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const revert = decodeRevert(err);
    if (revert) return revert.name;
    throw err;
  }
  throw new Error("expected a revert");
}

// the two EVMs, and a third node that reports reverts as -32000 errors with the revert bytes in `data`
for (const chainDef of [...TEST_CHAINS, relayedChain("-32000")]) {
  describe(`escrow on ${chainDef.name}`, () => {
    let chain: TestChain;
    let d: Deployment;
    let sponsor: ReturnType<TestChain["conn"]["wallet"]>;
    let worker: ReturnType<TestChain["conn"]["wallet"]>;
    let treasury: Address;

    beforeAll(async () => {
      chain = await chainDef.start();
      d = await deployForTest(chain);
      sponsor = chain.conn.wallet(chain.keys.sponsor);
      worker = chain.conn.wallet(chain.keys.worker);
      treasury = privateKeyToAddress(chain.keys.treasury);
    }, 60_000);
    afterAll(async () => {
      await chain?.stop();
    });

    const mine = async (hash: Hex) => {
      const r = await chain.conn.publicClient.waitForTransactionReceipt({ hash });
      expect(r.status).toBe("success");
      return r;
    };
    const balance = (a: Address) => chain.conn.publicClient.getBalance({ address: a });
    const accrued = (token: Address) =>
      chain.conn.publicClient.readContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "feesOwed",
        args: [token],
      });
    /** Sends a token's accrued fees to the treasury (anyone may) and returns what the treasury received. */
    const withdrawFees = async (token: Address, read: (a: Address) => Promise<bigint>) => {
      const before = await read(treasury);
      await mine(
        await sponsor.writeContract({
          address: d.escrow,
          abi: ProjectEscrow.abi,
          functionName: "withdrawFees",
          args: [token],
        }),
      );
      expect(await accrued(token)).toBe(0n);
      return (await read(treasury)) - before;
    };
    const tokenBalance = (a: Address) =>
      chain.conn.publicClient.readContract({
        address: d.dev!.token,
        abi: DevToken.abi,
        functionName: "balanceOf",
        args: [a],
      });
    const registered = new Set<string>();
    const depositNative = async (projectKey: string, amount: bigint) => {
      if (!registered.has(projectKey)) await registerForTest(chain, d, projectKey);
      registered.add(projectKey);
      return mine(
        await sponsor.writeContract({
          address: d.escrow,
          abi: ProjectEscrow.abi,
          functionName: "deposit",
          args: [onChainProjectId(projectKey), zeroAddress, amount],
          value: amount,
        }),
      );
    };
    const depositToken = async (projectKey: string, amount: bigint) => {
      const token = d.dev!.token;
      await registerForTest(chain, d, projectKey, { token });
      await mine(
        await sponsor.writeContract({
          address: token,
          abi: DevToken.abi,
          functionName: "mint",
          args: [sponsor.account.address, amount],
        }),
      );
      await mine(
        await sponsor.writeContract({
          address: token,
          abi: DevToken.abi,
          functionName: "approve",
          args: [d.escrow, amount],
        }),
      );
      await mine(
        await sponsor.writeContract({
          address: d.escrow,
          abi: ProjectEscrow.abi,
          functionName: "deposit",
          args: [onChainProjectId(projectKey), token, amount],
        }),
      );
    };
    const release = async (projectKey: string, c: ProvenClaim) => {
      const a = attestationOf(projectKey, c);
      return submitRelease(chain.conn, d.escrow, chain.keys.worker, a, await sign(chain, d, a), c.proof.calldata);
    };
    /** Simulates a release with chosen attestation fields and proof, returning the revert name. */
    const tryRelease = async (
      projectKey: string,
      c: ProvenClaim,
      change: Partial<ReturnType<typeof attestationOf>> = {},
      opts: { proof?: ProvenClaim["proof"]["calldata"]; signer?: Hex } = {},
    ) => {
      const a = { ...attestationOf(projectKey, c), ...change };
      const sig = await sign(chain, d, a, opts.signer);
      return revertName(
        chain.conn.publicClient.simulateContract({
          address: d.escrow,
          abi: ProjectEscrow.abi,
          functionName: "releasePayment",
          args: releaseArgs(a, sig, opts.proof ?? c.proof.calldata),
          account: worker.account,
        }),
      );
    };

    test("native coin: a valid proof pays once, the fee is exact, a second release reverts", async () => {
      await depositNative("p-native", parseEther("10"));
      const payeeBefore = await balance(PAYEE);
      const accruedBefore = await accrued(zeroAddress);
      const result = await release("p-native", nativeClaim);
      const fee = (nativeClaim.amount * BigInt(TEST_FEES.paymentFeeBps)) / 10_000n;
      expect(fee).toBe(parseEther("0.0375"));
      expect(result.fee).toBe(fee);
      expect((await balance(PAYEE)) - payeeBefore).toBe(nativeClaim.amount - fee);
      expect((await accrued(zeroAddress)) - accruedBefore).toBe(fee);
      expect(await withdrawFees(zeroAddress, balance)).toBe(accruedBefore + fee);
      expect(result.gasUsed).toBeLessThan(350_000n);
      const project = await chain.conn.publicClient.readContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "getProject",
        args: [onChainProjectId("p-native")],
      });
      expect(project.balance).toBe(parseEther("10") - nativeClaim.amount);
      expect(
        await chain.conn.publicClient.readContract({
          address: d.escrow,
          abi: ProjectEscrow.abi,
          functionName: "paid",
          args: [nativeClaim.taskId],
        }),
      ).toBe(true);

      expect(await tryRelease("p-native", nativeClaim)).toBe("AlreadyPaid");
      const again = release("p-native", nativeClaim);
      await expect(again).rejects.toMatchObject({ code: "CONFLICT", details: { contractError: "AlreadyPaid" } });
    });

    test("an outsider's deposit cannot block the sponsor: only the registered wallet funds a project", async () => {
      const pid = onChainProjectId("p-grief");
      const outsider = chain.conn.wallet(chain.keys.contributor);
      const depositBy = (w: typeof outsider, amount = 1n) =>
        chain.conn.publicClient.simulateContract({
          address: d.escrow,
          abi: ProjectEscrow.abi,
          functionName: "deposit",
          args: [pid, zeroAddress, amount],
          value: amount,
          account: w.account,
        });
      // before registration nobody can take the id by depositing first (1 wei was enough before)
      expect(await revertName(depositBy(outsider))).toBe("NotRegistered");
      expect(await revertName(depositBy(sponsor))).toBe("NotRegistered");
      // only the worker registers
      const byOutsider = chain.conn.publicClient.simulateContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "registerProject",
        args: [pid, outsider.account.address, zeroAddress],
        account: outsider.account,
      });
      expect(await revertName(byOutsider)).toBe("NotWorker");
      await registerForTest(chain, d, "p-grief");
      registered.add("p-grief");
      expect(await revertName(depositBy(outsider))).toBe("NotSponsor");
      // the outsider's transaction, sent anyway with a gas limit, is mined reverted (the embedded chain) or
      // refused at sending with the same reason (the Hardhat node): either way it changes nothing
      const sent = await outsider
        .writeContract({
          address: d.escrow,
          abi: ProjectEscrow.abi,
          functionName: "deposit",
          args: [pid, zeroAddress, 1n],
          value: 1n,
          gas: 200_000n,
        })
        .then((hash) => chain.conn.publicClient.waitForTransactionReceipt({ hash }))
        .then(
          (r): string => r.status,
          (err) => decodeRevert(err)?.name ?? String(err),
        );
      expect(["reverted", "NotSponsor"]).toContain(sent);
      await depositNative("p-grief", parseEther("2"));
      const project = await chain.conn.publicClient.readContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "getProject",
        args: [pid],
      });
      expect(project.sponsor).toBe(sponsor.account.address);
      expect(project.balance).toBe(parseEther("2"));
      expect(project.funded).toBe(true);
      // once funded, the sponsor is fixed: the worker cannot name another wallet
      const rename = chain.conn.publicClient.simulateContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "registerProject",
        args: [pid, outsider.account.address, zeroAddress],
        account: worker.account,
      });
      expect(await revertName(rename)).toBe("AlreadyFunded");
      // a top-up by the sponsor still works
      await depositNative("p-grief", parseEther("1"));
    });

    test("ERC-20: pays the payee and the treasury to the base unit", async () => {
      await depositToken("p-token", 1_000_000_000n);
      const payeeBefore = await tokenBalance(PAYEE);
      const accruedBefore = await accrued(d.dev!.token);
      const result = await release("p-token", tokenClaim);
      const fee = (123_456_789n * 250n) / 10_000n; // 3,086,419 (floor)
      expect(fee).toBe(3_086_419n);
      expect(result.fee).toBe(fee);
      expect((await tokenBalance(PAYEE)) - payeeBefore).toBe(123_456_789n - fee);
      expect((await accrued(d.dev!.token)) - accruedBefore).toBe(fee);
      expect(await withdrawFees(d.dev!.token, tokenBalance)).toBe(accruedBefore + fee);
    });

    test("a proof for another payee, amount or task reverts", async () => {
      await depositNative("p-bind", parseEther("10"));
      const fresh = bindClaim;
      // attestation re-signed by the harness for the changed value, so only the proof can refuse it
      expect(await tryRelease("p-bind", fresh, { payee: OTHER_PAYEE })).toBe("InvalidProof");
      expect(await tryRelease("p-bind", fresh, { amount: parseEther("2") })).toBe("InvalidProof");
      expect(await tryRelease("p-bind", fresh, {}, { proof: tokenClaim.proof.calldata })).toBe("InvalidProof");
      expect(await tryRelease("p-bind", fresh, { taskId: fresh.taskId + 1n })).toBe("InvalidProof");
      // and the untouched claim passes the same checks
      await expect(release("p-bind", fresh)).resolves.toMatchObject({ fee: parseEther("0.025") });
    });

    test("a tampered public signal or proof element reverts", async () => {
      await depositNative("p-tamper", parseEther("5"));
      const c = spareClaim;
      expect(await tryRelease("p-tamper", c, { root: c.root + 1n })).toBe("InvalidProof");
      expect(await tryRelease("p-tamper", c, { ruleHash: c.ruleHash + 1n })).toBe("InvalidProof");
      const p = c.proof.calldata;
      const tampered = { ...p, a: [p.a[0], p.a[1] + 1n] as [bigint, bigint] };
      expect(await tryRelease("p-tamper", c, {}, { proof: tampered })).toBe("InvalidProof");
    });

    test("a report not signed by the harness key reverts (PROOF_INVALID)", async () => {
      await depositNative("p-sig", parseEther("5"));
      const c = spareClaim;
      expect(await tryRelease("p-sig", c, {}, { signer: chain.keys.sponsor })).toBe("InvalidAttestation");
      // a signature over a different digest than the one submitted
      const a = attestationOf("p-sig", c);
      const sig = await sign(chain, d, { ...a, digest: `0x${"11".repeat(32)}` });
      const err = await submitRelease(chain.conn, d.escrow, chain.keys.worker, a, sig, c.proof.calldata).catch(
        (e) => e,
      );
      expect(err).toBeInstanceOf(AppError);
      expect(err.code).toBe("PROOF_INVALID");
    });

    test("an unfunded or underfunded project gives INSUFFICIENT_FUNDS; only the worker may release", async () => {
      const c = spareClaim;
      expect(await tryRelease("p-unfunded", c)).toBe("InsufficientFunds");
      const err = await release("p-unfunded", c).catch((e) => e);
      expect(err.code).toBe("INSUFFICIENT_FUNDS");
      await depositNative("p-small", parseEther("0.5"));
      expect((await release("p-small", c).catch((e) => e)).code).toBe("INSUFFICIENT_FUNDS");
      const a = attestationOf("p-small", c);
      const byOther = chain.conn.publicClient.simulateContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "releasePayment",
        args: releaseArgs(a, await sign(chain, d, a), c.proof.calldata),
        account: sponsor.account,
      });
      expect(await revertName(byOther)).toBe("NotWorker");
      expect(escrowError(new Error("network down"))).toBeInstanceOf(Error);
    });

    test("yield mode: harvest splits the yield exactly; payments still work from the vault", async () => {
      await depositToken("p-yield", 1_000_000_000n);
      const pid = onChainProjectId("p-yield");
      await mine(
        await sponsor.writeContract({
          address: d.escrow,
          abi: ProjectEscrow.abi,
          functionName: "setMode",
          args: [pid, 1],
        }),
      );
      // simulate 100 dUSD of yield: assets sent straight to the vault
      await mine(
        await sponsor.writeContract({
          address: d.dev!.token,
          abi: DevToken.abi,
          functionName: "mint",
          args: [d.dev!.vault, 100_000_000n],
        }),
      );
      const pending = await chain.conn.publicClient.readContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "pendingYield",
        args: [pid],
      });
      // ERC-4626 rounds in the vault's favour (OpenZeppelin's virtual share): at most one unit stays behind
      expect(pending === 100_000_000n || pending === 99_999_999n).toBe(true);
      const fee = (pending * BigInt(TEST_FEES.yieldFeeBps)) / 10_000n;
      const sponsorBefore = await tokenBalance(sponsor.account.address);
      const accruedBefore = await accrued(d.dev!.token);
      await mine(
        await worker.writeContract({ address: d.escrow, abi: ProjectEscrow.abi, functionName: "harvest", args: [pid] }),
      );
      expect((await accrued(d.dev!.token)) - accruedBefore).toBe(fee);
      expect((await tokenBalance(sponsor.account.address)) - sponsorBefore).toBe(pending - fee);
      expect(fee + (pending - fee)).toBe(pending);

      const payeeBefore = await tokenBalance(OTHER_PAYEE);
      await release("p-yield", yieldClaim);
      expect((await tokenBalance(OTHER_PAYEE)) - payeeBefore).toBe(50_000_000n - 1_250_000n);
      const project = await chain.conn.publicClient.readContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "getProject",
        args: [pid],
      });
      expect(project.balance).toBe(950_000_000n);
    });

    test("closing waits for the withdrawal delay and refunds the remainder; pause stops payments", async () => {
      await depositNative("p-close", parseEther("3"));
      const pid = onChainProjectId("p-close");
      await mine(
        await sponsor.writeContract({
          address: d.escrow,
          abi: ProjectEscrow.abi,
          functionName: "requestClose",
          args: [pid],
        }),
      );
      const early = chain.conn.publicClient.simulateContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "closeProject",
        args: [pid],
        account: sponsor.account,
      });
      expect(await revertName(early)).toBe("WithdrawalDelayPending");
      await chain.conn.request("evm_increaseTime", [TEST_FEES.withdrawalDelaySeconds + 1]);
      await chain.conn.request("evm_mine", []);
      const before = await balance(sponsor.account.address);
      const receipt = await mine(
        await sponsor.writeContract({
          address: d.escrow,
          abi: ProjectEscrow.abi,
          functionName: "closeProject",
          args: [pid],
        }),
      );
      const gasCost = receipt.gasUsed * receipt.effectiveGasPrice;
      expect((await balance(sponsor.account.address)) - before + gasCost).toBe(parseEther("3"));

      await depositNative("p-pause", parseEther("2"));
      await mine(
        await worker.writeContract({ address: d.escrow, abi: ProjectEscrow.abi, functionName: "pause", args: [] }),
      );
      const c = pauseClaim;
      expect(await tryRelease("p-pause", c)).toBe("EnforcedPause");
      const unpauseByWorker = chain.conn.publicClient.simulateContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "unpause",
        args: [],
        account: worker.account,
      });
      expect(await revertName(unpauseByWorker)).toBe("OwnableUnauthorizedAccount");
      const owner = chain.conn.wallet(chain.keys.deployer);
      await mine(
        await owner.writeContract({ address: d.escrow, abi: ProjectEscrow.abi, functionName: "unpause", args: [] }),
      );
      await expect(release("p-pause", c)).resolves.toMatchObject({ fee: parseEther("0.025") });
    });
  });
}
