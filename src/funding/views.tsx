import { formatUnits } from "viem";
import { CsrfField } from "../../ui/components";
import type { Project } from "../projects/schema";
import type { FundingPanelData } from "./service";

/** Flash messages of the overview page after a funding form (`?funding=…`). */
export const FUNDING_FLASH: Record<string, string> = {
  quoted: "Quote ready: deposit the amount below into the escrow, then confirm the transaction.",
  funded: "Deposit confirmed: the project is funded and active.",
};

const usd = (cents: string | number) =>
  `$${(Number(cents) / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** The funding card of a project's overview: quote, how to deposit, confirmation; or what was deposited. */
export function FundingPanel(props: { project: Project; data: FundingPanelData; csrf?: string }) {
  const { project: p, data, csrf } = props;
  const unit = p.tokenSymbol ?? (p.tokenAddress ? "tokens" : "ETH");
  const amount = (base: bigint | string) => `${formatUnits(BigInt(base), p.tokenDecimals)} ${unit}`;
  if (p.state !== "DRAFT") {
    return (
      <div class="card" id="funding">
        <h2>Funding</h2>
        <p safe>
          {`Funded: ${amount(data.deposited)} in escrow (${data.deposits} deposit${data.deposits === 1 ? "" : "s"}).`}
        </p>
      </div>
    );
  }
  if (!data.canFund) return "";
  if (!p.structureApprovedAt) {
    return (
      <div class="card" id="funding">
        <h2>Funding</h2>
        <p class="muted">Approve the milestone structure first: the deposit is computed from its points.</p>
      </div>
    );
  }
  const q = data.quote;
  return (
    <div class="card" id="funding">
      <h2>Funding</h2>
      <p class="muted">
        There is no budget to type in: the deposit is the approved points × the point rate ÷ the token's price from the
        oracle, in the token's smallest unit.
      </p>
      {q ? (
        <>
          <table>
            <tbody>
              <tr>
                <th scope="row">Deposit</th>
                <td safe>{`${amount(q.amount)} (${q.amount} base units)`}</td>
              </tr>
              <tr>
                <th scope="row">Computed from</th>
                <td safe>
                  {`${q.totalPoints} points × ${usd(q.pointRateUsdCents)} = ${usd(q.usdCents)} at ${formatUnits(BigInt(q.price.answer), q.price.decimals)} USD per ${unit}`}
                </td>
              </tr>
              {data.deposited > 0n ? (
                <tr>
                  <th scope="row">Deposited so far</th>
                  <td safe>{amount(data.deposited)}</td>
                </tr>
              ) : (
                ""
              )}
              <tr>
                <th scope="row">Escrow</th>
                <td>
                  <code>{q.deposit.escrow}</code> <span class="muted" safe>{`chain ${q.deposit.chainId}`}</span>
                </td>
              </tr>
              <tr>
                <th scope="row">Call</th>
                <td>
                  {q.deposit.approve ? (
                    <p
                      class="muted"
                      safe
                    >{`First approve the escrow for ${q.amount} on the token ${q.deposit.approve.token}, then:`}</p>
                  ) : (
                    ""
                  )}
                  <code safe>{q.deposit.call}</code>
                  {q.deposit.value !== "0" ? (
                    <span class="muted" safe>{` with value ${q.deposit.value} wei`}</span>
                  ) : (
                    ""
                  )}
                </td>
              </tr>
              <tr>
                <th scope="row">Quote expires</th>
                <td safe>{new Date(q.expiresAt).toUTCString()}</td>
              </tr>
            </tbody>
          </table>
          <form method="post" action={`/projects/${p.id}/fund`} class="stack">
            <CsrfField token={csrf} />
            <label>
              Deposit transaction hash
              <input name="depositTxHash" required pattern="0x[0-9a-fA-F]{64}" placeholder="0x…" />
            </label>
            <p>
              <button type="submit">Confirm the deposit</button>
            </p>
          </form>
          {data.devDeposit ? (
            <form method="post" action={`/projects/${p.id}/fund/dev-deposit`} class="inline">
              <CsrfField token={csrf} />
              <button type="submit" class="secondary">
                Deposit from the dev chain's sponsor account
              </button>{" "}
              <span class="muted">(the embedded dev chain's play money, for trying the flow)</span>
            </form>
          ) : (
            ""
          )}
        </>
      ) : (
        ""
      )}
      <form method="post" action={`/projects/${p.id}/fund/quote`} class="inline">
        <CsrfField token={csrf} />
        <button type="submit" class={q ? "secondary" : ""}>
          {q ? "Get a new quote" : "Get a funding quote"}
        </button>
      </form>
    </div>
  );
}
