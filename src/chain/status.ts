// What `devsponsor chain status` and the doctor report: is the chain reachable, are the contracts there and wired
// to this appliance's keys, can the worker pay for gas.
import { type Address, formatEther } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { ProjectEscrow } from "./contracts.gen";
import { checkEvm } from "./evm";
import type { ChainRuntime } from "./service";

/** One line of the status report. */
export interface StatusLine {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

/** Reads the chain and the deployment; every problem comes with a fix. */
export async function chainStatus(rt: ChainRuntime): Promise<StatusLine[]> {
  const out: StatusLine[] = [];
  const pc = rt.conn.publicClient;
  const chainId = await pc.getChainId();
  const head = await pc.getBlockNumber({ cacheTime: 0 });
  out.push({
    name: "chain",
    ok: chainId === rt.conn.chain.id,
    detail: `${rt.mode === "dev" ? "embedded dev chain" : "RPC node"}, chain id ${chainId}, block ${head}`,
    fix: chainId === rt.conn.chain.id ? undefined : `the node is on chain ${chainId}: fix Settings → Chain → Chain id`,
  });
  const d = rt.deployment;
  const code = d ? await pc.getCode({ address: d.escrow }) : undefined;
  const deployed = !!code && code !== "0x";
  // the EVM features the escrow needs: a harmless call through its reentrancy guard once it is deployed
  out.push({ name: "evm", ...(await checkEvm(rt.conn, deployed ? d?.escrow : undefined)) });
  if (!d) {
    out.push({ name: "escrow", ok: false, detail: "no contracts deployed", fix: "devsponsor chain deploy" });
    return out;
  }
  if (!code || code === "0x") {
    out.push({
      name: "escrow",
      ok: false,
      detail: `no contract at ${d.escrow}`,
      fix: "devsponsor chain deploy, or fix Settings → Chain → Escrow address",
    });
    return out;
  }
  const read = <T>(functionName: string) =>
    pc.readContract({ address: d.escrow, abi: ProjectEscrow.abi, functionName: functionName as any }) as Promise<T>;
  const [verifier, worker, harness, treasury, paused, fee, yieldFee] = await Promise.all([
    read<Address>("verifier"),
    read<Address>("worker"),
    read<Address>("harnessSigner"),
    read<Address>("treasury"),
    read<boolean>("paused"),
    read<number>("paymentFeeBps"),
    read<number>("yieldFeeBps"),
  ]);
  out.push({
    name: "escrow",
    ok: !paused,
    detail: `${d.escrow} (${(code.length - 2) / 2} bytes)${paused ? ", PAUSED" : ""}, fees ${fee} bps / yield ${yieldFee} bps, treasury ${treasury}`,
    fix: paused ? "the owner must call unpause() once the emergency is over" : undefined,
  });
  out.push({ name: "verifier", ok: true, detail: verifier });
  const workerAddr = rt.workerKey ? privateKeyToAddress(rt.workerKey) : undefined;
  if (!workerAddr) {
    out.push({ name: "worker", ok: false, detail: "no worker key", fix: "Settings → Chain → Worker key" });
  } else {
    const balance = await pc.getBalance({ address: workerAddr });
    const matches = workerAddr.toLowerCase() === worker.toLowerCase();
    out.push({
      name: "worker",
      ok: matches && balance > 0n,
      detail: `${workerAddr}, balance ${formatEther(balance)}${matches ? "" : ` (the escrow's worker is ${worker})`}`,
      fix: !matches
        ? "the escrow owner must call setWorker with this key's address"
        : balance === 0n
          ? "fund the worker address for gas"
          : undefined,
    });
  }
  const harnessAddr = rt.harnessKey ? privateKeyToAddress(rt.harnessKey) : undefined;
  out.push({
    name: "harness",
    ok: !!harnessAddr && harnessAddr.toLowerCase() === harness.toLowerCase(),
    detail: harnessAddr
      ? `${harnessAddr}${harnessAddr.toLowerCase() === harness.toLowerCase() ? "" : ` (the escrow accepts ${harness})`}`
      : "no harness key",
    fix: !harnessAddr
      ? "Settings → Chain → Harness key"
      : harnessAddr.toLowerCase() !== harness.toLowerCase()
        ? "the escrow owner must call setHarnessSigner with this key's address"
        : undefined,
  });
  return out;
}
