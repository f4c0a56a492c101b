import { escapeHtml } from "@kitajs/html";
import { formatUnits } from "viem";
import { ASSETS } from "../../ui/assets";
import { CsrfField, TxLink, TxRow } from "../../ui/components";
import { Layout, type Viewer } from "../../ui/layout";
import type { Project } from "../projects/schema";
import { ProjectHeader } from "../projects/views";
import type { FundingOverview } from "./overview";
import type { FundingPanelData } from "./service";
import type { DepositWallet } from "./wallet";

/** Flash messages of the overview page after a funding form (`?funding=…`). */
export const FUNDING_FLASH: Record<string, string> = {
  quoted: "Quote ready: deposit the amount below into the escrow, then confirm the transaction.",
  funded: "Deposit confirmed: the project is funded and active.",
};

const usd = (cents: string | number) =>
  `$${(Number(cents) / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** Which wallet the deposit comes from, with a link to prove one when there is none. */
function DepositWalletLine(props: { wallet: DepositWallet | null; back: string }) {
  const w = props.wallet;
  if (!w) return "";
  const add = `/profile?next=${encodeURIComponent(props.back)}#wallets`;
  if (w.how === "none" || !w.address) {
    return (
      <p id="deposit-wallet" class="flash warning">
        No wallet to deposit from yet: the escrow takes this project's deposits only from a wallet you proved.{" "}
        <a href={add}>Add a wallet</a> (Sign-In with Ethereum), then get a quote.
      </p>
    );
  }
  return (
    <p id="deposit-wallet">
      Deposit from <code class="wrap-anywhere">{w.address}</code>
      {w.how === "registered"
        ? w.funded
          ? ": this project's escrow takes its deposits and top-ups only from this wallet (its first deposit came from it)."
          : ": the escrow takes this quote's deposit only from this wallet."
        : w.how === "proved"
          ? ": your proved wallet, which the next quote registers with the escrow."
          : ": the dev chain's sponsor account, as you have proved no wallet of your own."}{" "}
      {w.funded ? "" : <a href={add}>Add another wallet</a>}
    </p>
  );
}

/**
 * The browser-wallet panel: wallet.js connects the injected wallet, switches its chain, sends the approve (ERC-20)
 * and the deposit the appliance prepared, confirms the deposit's hash and reloads at `done`.
 */
function WalletPanel(props: { projectId: string; erc20: boolean; done: string }) {
  const id = props.projectId;
  return (
    <div
      class="wallet-panel"
      id="wallet"
      data-wallet
      data-plan={`/api/projects/${id}/fund/wallet`}
      data-quote={`/api/projects/${id}/fund/quote`}
      data-confirm={`/api/projects/${id}/fund`}
      data-done={props.done}
    >
      <h3>Deposit from a browser wallet</h3>
      <ol class="wallet-steps">
        <li data-step="connect">Connect</li>
        <li data-step="chain">Switch chain</li>
        {props.erc20 ? <li data-step="approve">Approve the token</li> : ""}
        <li data-step="deposit">Deposit</li>
        <li data-step="confirmed">Confirmed</li>
      </ol>
      <p data-wallet-status role="status" aria-live="polite" class="muted">
        A browser wallet needs JavaScript; without it, send the deposit yourself and confirm its hash below.
      </p>
      <p>
        <button type="button" data-wallet-connect hidden>
          Connect wallet and deposit
        </button>{" "}
        <button type="button" class="secondary" data-wallet-prove hidden></button>
      </p>
      <script src={ASSETS.wallet.path} defer></script>
    </div>
  );
}

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
        <p>
          <a href={`/projects/${p.id}/funding`}>Funding tab</a>: released, remaining and refundable amounts, top-ups,
          close and refund, yield and charts.
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
      <DepositWalletLine wallet={data.wallet} back={`/projects/${p.id}#funding`} />
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
          <WalletPanel projectId={p.id} erc20={!!p.tokenAddress} done={`/projects/${p.id}?funding=funded#funding`} />
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

/** Flash messages of the funding tab after one of its forms (`?funding=…`). */
export const FUNDING_TAB_FLASH: Record<string, string> = {
  ...FUNDING_FLASH,
  funded: "Deposit confirmed: the top-up is in escrow and the tasks' payouts are updated.",
  quoted: "Top-up quoted: deposit the difference below, then confirm the transaction.",
  "close-requested": "Close requested: no new claims are taken; open claims can still be paid until the delay ends.",
  closed: "The project is closed and its unspent funds were sent back to the sponsor.",
  expiry: "Expiry date saved.",
  mode: "Funding mode changed.",
  harvested: "Yield harvested.",
  "no-yield": "There was no yield to harvest.",
  points: "Points raised: get a top-up quote to fund them.",
};

const day = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace("T", " ") : "—");

/** Sends the sponsor's transaction: on the dev chain the appliance does it; elsewhere the sponsor gives its hash. */
function SponsorTxForm(props: {
  action: string;
  csrf?: string;
  label: string;
  dev: boolean;
  call: string;
  hidden?: Record<string, string>;
}) {
  return (
    <form method="post" action={props.action} class="stack">
      <CsrfField token={props.csrf} />
      {Object.entries(props.hidden ?? {}).map(([k, v]) => (
        <input type="hidden" name={k} value={v} />
      ))}
      {props.dev ? (
        ""
      ) : (
        <label>
          <span safe>{`Send ${props.call} from the sponsor wallet, then its transaction hash`}</span>
          <input name="txHash" required pattern="0x[0-9a-fA-F]{64}" placeholder="0x…" />
        </label>
      )}
      <p>
        <button type="submit" safe>
          {props.label}
        </button>
        {props.dev ? <span class="muted"> (sent from the dev chain's sponsor account)</span> : ""}
      </p>
    </form>
  );
}

/** The funding tab: amounts with their transactions, top-ups, close and refund, expiry, yield and charts. */
export function FundingTabPage(props: {
  viewer: Viewer;
  csrf?: string;
  flash?: { kind: "error" | "success"; message: string };
  canAudit: boolean;
  data: FundingOverview;
  /** Server-rendered SVG (src/charts escapes every text it holds). */
  charts: { burnDown: JSX.Element; payouts: JSX.Element; taskStates: JSX.Element };
}) {
  const { data: d, csrf } = props;
  const { burnDown, payouts, taskStates } = props.charts;
  const p = d.project;
  const unit = p.tokenSymbol ?? (p.tokenAddress ? "tokens" : "ETH");
  const amount = (base: bigint | string) => `${formatUnits(BigInt(base), p.tokenDecimals)} ${unit}`;
  const key = d.row.projectKey;
  const a = d.amounts;
  const closing = !!d.row.closeRequestedAt && !d.row.closedAt;
  const y = d.yield;
  // the appliance sends the sponsor's calls from the dev account only while the escrow id is not bound to another
  const devSends = d.devDeposit && !(d.wallet?.funded && !d.wallet.devAccount);
  return (
    <Layout title={`${p.title}: funding`} viewer={props.viewer} csrfToken={csrf} flash={props.flash}>
      <ProjectHeader project={p} tab="funding" canAudit={props.canAudit} />
      {p.state === "DRAFT" ? (
        <div class="card">
          <h2>Not funded yet</h2>
          <p>
            Quote and deposit the funding on the <a href={`/projects/${p.id}#funding`}>overview</a> once the milestone
            structure is approved.
          </p>
        </div>
      ) : (
        <>
          <div class="card" id="amounts">
            <h2>Amounts</h2>
            {d.stopped ? (
              <p class="flash error" role="status" safe>
                {d.stopped}
              </p>
            ) : (
              ""
            )}
            <table>
              <tbody>
                <tr>
                  <th scope="row">Deposited</th>
                  <td
                    id="amount-deposited"
                    safe
                  >{`${amount(a.deposited)} in ${d.deposits.length} deposit${d.deposits.length === 1 ? "" : "s"}`}</td>
                </tr>
                <tr>
                  <th scope="row">Released</th>
                  <td
                    id="amount-released"
                    safe
                  >{`${amount(a.released)} in ${d.releases.length} payment${d.releases.length === 1 ? "" : "s"} (fees included)`}</td>
                </tr>
                <tr>
                  <th scope="row">Remaining in escrow</th>
                  <td id="amount-remaining" safe>
                    {amount(a.remaining)}
                  </td>
                </tr>
                <tr>
                  <th scope="row">Promised to work in progress</th>
                  <td safe>{amount(a.committed)}</td>
                </tr>
                <tr>
                  <th scope="row">Refundable</th>
                  <td id="amount-refundable" safe>
                    {d.row.closedAt
                      ? `${amount(d.row.refundAmount ?? "0")} refunded ${day(d.row.closedAt)}`
                      : d.closable || d.expired
                        ? `${amount(a.refundable)} now`
                        : `${amount(a.refundable)} if the project were closed today (after the withdrawal delay)`}
                  </td>
                </tr>
              </tbody>
            </table>
          </div>

          <div class="card" id="close">
            <h2>Close and refund</h2>
            {d.row.closedAt ? (
              <p id="close-state">
                {escapeHtml(
                  `Closed ${day(d.row.closedAt)}: ${amount(d.row.refundAmount ?? "0")} sent back to the sponsor.`,
                )}{" "}
              </p>
            ) : closing ? (
              <>
                <p id="close-state" safe>
                  {`Close requested ${day(d.row.closeRequestedAt)}. The withdrawal delay ends ${day(d.row.closableAt)} UTC${d.chainTime ? ` (chain time now ${day(d.chainTime)})` : ""}; until then verified work of open claims can still be paid.`}
                </p>
                {d.canFund ? (
                  <form method="post" action={`/projects/${p.id}/fund/close`} class="inline">
                    <CsrfField token={csrf} />
                    <button type="submit" disabled={!d.closable}>
                      Close and refund
                    </button>
                    {d.closable ? "" : <span class="muted"> (available when the delay has ended)</span>}
                  </form>
                ) : (
                  ""
                )}
              </>
            ) : d.canFund ? (
              <>
                <p class="muted">
                  Requesting the close stops new claims at once. Open claims may finish during the escrow's withdrawal
                  delay; after it, close and refund sends what is unspent back to the sponsor.
                </p>
                <SponsorTxForm
                  action={`/projects/${p.id}/fund/close-request`}
                  csrf={csrf}
                  label="Request close"
                  dev={devSends}
                  call={`requestClose(${key})`}
                />
              </>
            ) : (
              <p class="muted">The project is open.</p>
            )}
            {d.row.closedAt ? (
              ""
            ) : (
              <>
                <h3>Expiry date</h3>
                <p>
                  {escapeHtml(
                    d.row.expiresAt
                      ? `${d.expired ? "Expired" : "Expires"} ${day(d.row.expiresAt)} UTC: after it no new claims are taken and the unspent funds can be refunded at once.`
                      : "No expiry date: the funds stay in escrow until the project is closed.",
                  )}
                </p>
                {d.canFund && !closing ? (
                  <form method="post" action={`/projects/${p.id}/fund/expiry`} class="inline">
                    <CsrfField token={csrf} />
                    <label>
                      Expiry date{" "}
                      <input
                        type="date"
                        name="expiresAt"
                        value={d.row.expiresAt ? d.row.expiresAt.toISOString().slice(0, 10) : ""}
                      />
                    </label>{" "}
                    <button type="submit" class="secondary">
                      Save expiry
                    </button>
                  </form>
                ) : (
                  ""
                )}
                {d.canFund && d.expired ? (
                  <form method="post" action={`/projects/${p.id}/fund/close`} class="inline">
                    <CsrfField token={csrf} />
                    <button type="submit">Refund the unspent funds</button>
                  </form>
                ) : (
                  ""
                )}
              </>
            )}
          </div>

          {p.state === "ACTIVE" && d.canFund && !d.stopped ? (
            <div class="card" id="topup">
              <h2>Top up</h2>
              <p class="muted">
                More points on an open task, or a lower token price, make the project need more than is deposited. A
                top-up quote asks only for the difference: Σ points × point rate ÷ price, minus what is deposited.
              </p>
              {d.openTasks.length > 0 ? (
                <details>
                  <summary>Raise an open task's points</summary>
                  {d.openTasks.map((t) => (
                    <form method="post" action={`/tasks/${t.id}/points`} class="inline">
                      <CsrfField token={csrf} />
                      <label>
                        <span safe>{t.title}</span>{" "}
                        <input
                          type="number"
                          name="points"
                          min={String(t.points + 1)}
                          value={String(t.points)}
                          required
                        />
                      </label>{" "}
                      <button type="submit" class="secondary">
                        Save points
                      </button>
                    </form>
                  ))}
                </details>
              ) : (
                ""
              )}
              <DepositWalletLine wallet={d.wallet} back={`/projects/${p.id}/funding`} />
              {d.topUp ? (
                <>
                  <table>
                    <tbody>
                      <tr>
                        <th scope="row">Top-up</th>
                        <td id="topup-amount" safe>{`${amount(d.topUp.amount)} (${d.topUp.amount} base units)`}</td>
                      </tr>
                      <tr>
                        <th scope="row">Computed from</th>
                        <td
                          safe
                        >{`${d.topUp.totalPoints} points × ${usd(d.topUp.pointRateUsdCents)} = ${usd(d.topUp.usdCents)}, minus ${amount(d.topUp.baseDeposited)} deposited`}</td>
                      </tr>
                      <tr>
                        <th scope="row">Call</th>
                        <td>
                          <code safe>{d.topUp.deposit.call}</code>
                        </td>
                      </tr>
                      <tr>
                        <th scope="row">Quote expires</th>
                        <td safe>{new Date(d.topUp.expiresAt).toUTCString()}</td>
                      </tr>
                    </tbody>
                  </table>
                  <WalletPanel
                    projectId={p.id}
                    erc20={!!p.tokenAddress}
                    done={`/projects/${p.id}/funding?funding=funded`}
                  />
                  <form method="post" action={`/projects/${p.id}/fund?back=funding`} class="stack">
                    <CsrfField token={csrf} />
                    <label>
                      Deposit transaction hash
                      <input name="depositTxHash" required pattern="0x[0-9a-fA-F]{64}" placeholder="0x…" />
                    </label>
                    <p>
                      <button type="submit">Confirm the top-up</button>
                    </p>
                  </form>
                  {devSends ? (
                    <form method="post" action={`/projects/${p.id}/fund/dev-deposit?back=funding`} class="inline">
                      <CsrfField token={csrf} />
                      <button type="submit" class="secondary">
                        Deposit the top-up from the dev chain's sponsor account
                      </button>
                    </form>
                  ) : (
                    ""
                  )}
                </>
              ) : (
                ""
              )}
              <form method="post" action={`/projects/${p.id}/fund/quote?back=funding`} class="inline">
                <CsrfField token={csrf} />
                <button type="submit" class={d.topUp ? "secondary" : ""}>
                  {d.topUp ? "Get a new top-up quote" : "Get a top-up quote"}
                </button>
              </form>
            </div>
          ) : (
            ""
          )}

          <div class="card" id="yield">
            <h2>Yield</h2>
            {y.available ? (
              <>
                <p class="wrap-anywhere" safe>
                  {y.mode === "YIELD"
                    ? `Yield mode: idle funds are in the vault ${y.vault}. Harvestable now: ${amount(y.pending)}. Harvests send the yield fee to the treasury and the rest to the sponsor.`
                    : `Escrow mode. This token has a vault (${y.vault}): in yield mode idle funds earn in it until they are paid out.`}
                </p>
                <p id="yield-totals" safe>
                  {`Harvested so far: ${amount(y.totals.yieldAmount)} (treasury fee ${amount(y.totals.fee)}, sponsor ${amount(y.totals.sponsorShare)}).`}
                </p>
                {d.canFund && p.state === "ACTIVE" && !d.stopped ? (
                  <SponsorTxForm
                    action={`/projects/${p.id}/fund/mode`}
                    csrf={csrf}
                    label={y.mode === "YIELD" ? "Switch to escrow mode" : "Switch to yield mode"}
                    dev={devSends}
                    call={`setMode(${key}, ${y.mode === "YIELD" ? 0 : 1})`}
                    hidden={{ mode: y.mode === "YIELD" ? "ESCROW" : "YIELD" }}
                  />
                ) : (
                  ""
                )}
                {d.canFund && y.mode === "YIELD" ? (
                  <form method="post" action={`/projects/${p.id}/fund/harvest`} class="inline">
                    <CsrfField token={csrf} />
                    <button type="submit" class="secondary">
                      Harvest now
                    </button>{" "}
                    <span class="muted">(the appliance also harvests daily)</span>
                  </form>
                ) : (
                  ""
                )}
                {y.harvests.length > 0 ? (
                  <div class="table-scroll">
                    <table id="harvests">
                      <caption>Harvests</caption>
                      <thead>
                        <tr>
                          <th scope="col">Date</th>
                          <th scope="col">Yield</th>
                          <th scope="col">Treasury fee</th>
                          <th scope="col">To the sponsor</th>
                          <th scope="col">Transaction</th>
                        </tr>
                      </thead>
                      <tbody>
                        {y.harvests.map((h) => (
                          <tr>
                            <td safe>{day(h.createdAt)}</td>
                            <td safe>{amount(h.yieldAmount)}</td>
                            <td safe>{amount(h.fee)}</td>
                            <td safe>{amount(h.sponsorShare)}</td>
                            <td>
                              <TxLink hash={h.txHash} url={d.txUrl(h.txHash)} />
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                ) : (
                  ""
                )}
              </>
            ) : (
              <p class="muted">
                Yield mode is offered for ERC-20 tokens whose vault is configured on the escrow; this project's token
                has none.
              </p>
            )}
          </div>

          <div class="card" id="transactions">
            <h2>Transactions</h2>
            <div class="table-scroll">
              <table class="stack-cards">
                <thead>
                  <tr>
                    <th scope="col">Date</th>
                    <th scope="col">What</th>
                    <th scope="col">Amount</th>
                    <th scope="col">Transaction</th>
                  </tr>
                </thead>
                <tbody>
                  {d.deposits.map((r) => (
                    <TxRow
                      at={day(r.createdAt)}
                      what={<>Deposit</>}
                      amount={amount(r.amount)}
                      hash={r.depositTxHash}
                      url={d.txUrl(r.depositTxHash)}
                    />
                  ))}
                  {d.releases.map((r) => (
                    <TxRow
                      at={day(r.at)}
                      what={
                        <>
                          Payment:{" "}
                          <a href={`/tasks/${r.taskId}`} safe>
                            {r.taskTitle}
                          </a>
                        </>
                      }
                      amount={`${amount(r.amount)} (fee ${amount(r.fee)})`}
                      hash={r.txHash}
                      url={d.txUrl(r.txHash)}
                    />
                  ))}
                  {d.row.closeRequestTx ? (
                    <TxRow
                      at={day(d.row.closeRequestedAt)}
                      what={<>Close requested</>}
                      amount="—"
                      hash={d.row.closeRequestTx}
                      url={d.txUrl(d.row.closeRequestTx)}
                    />
                  ) : (
                    ""
                  )}
                  {d.row.refundTx ? (
                    <TxRow
                      at={day(d.row.closedAt)}
                      what={<>Refund</>}
                      amount={amount(d.row.refundAmount ?? "0")}
                      hash={d.row.refundTx}
                      url={d.txUrl(d.row.refundTx)}
                    />
                  ) : (
                    ""
                  )}
                </tbody>
              </table>
            </div>
          </div>
        </>
      )}
      <div class="card" id="charts">
        <h2>Charts</h2>
        {burnDown}
        {payouts}
        {taskStates}
      </div>
    </Layout>
  );
}
