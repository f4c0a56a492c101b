// The charts of the funding tab and of a contributor's earnings, from plain rows (no database access here).
import { formatUnits } from "viem";
import { type Bar, barChart, stepChart, type TimePoint } from "./svg";

/** A token amount as a plottable number (precision beyond a double does not matter on a chart). */
const num = (base: bigint, decimals: number) => Number(base) / 10 ** decimals;

/** A dated movement of a project's escrow: + for deposits, − for releases and the refund. */
export interface Movement {
  at: Date;
  delta: bigint;
}

/** Funding burn-down: what is left in escrow after every deposit, payment and refund. */
export function burnDownChart(moves: readonly Movement[], decimals: number, unit: string): string {
  const sorted = [...moves].sort((a, b) => a.at.getTime() - b.at.getTime());
  let left = 0n;
  const points: TimePoint[] = sorted.map((m) => {
    left += m.delta;
    return { t: m.at.getTime(), v: num(left, decimals) };
  });
  const last = points.at(-1);
  return stepChart({
    title: "Funding burn-down",
    desc: last
      ? `What is left in escrow after each of ${points.length} deposits, payments and refunds; now ${last.v} ${unit}.`
      : "Nothing has been deposited yet.",
    points,
    unit: `Left (${unit})`,
    // a long history is summarised to the balance at the end of each day in the table
    tableRows: points.length > 60 ? dailyClose(points) : undefined,
  });
}

function dailyClose(points: readonly TimePoint[]): string[][] {
  const byDay = new Map<string, number>();
  for (const p of points) byDay.set(new Date(p.t).toISOString().slice(0, 10), p.v);
  return [...byDay].map(([d, v]) => [d, String(v)]);
}

/** Sums amounts per day (or per month with `month`), in date order. */
export function bucket(rows: readonly { at: Date; amount: bigint }[], by: "day" | "month" = "day") {
  const len = by === "day" ? 10 : 7;
  const sums = new Map<string, bigint>();
  for (const r of rows) {
    const k = r.at.toISOString().slice(0, len);
    sums.set(k, (sums.get(k) ?? 0n) + r.amount);
  }
  return [...sums].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Payouts over time: what contributors received per day (per month past 60 days of history). */
export function payoutsChart(rows: readonly { at: Date; amount: bigint }[], decimals: number, unit: string): string {
  let sums = bucket(rows, "day");
  if (sums.length > 60) sums = bucket(rows, "month");
  const bars: Bar[] = sums.map(([label, v]) => ({
    label,
    value: num(v, decimals),
    text: `${formatUnits(v, decimals)} ${unit}`,
  }));
  const total = rows.reduce((a, r) => a + r.amount, 0n);
  return barChart({
    title: "Payouts over time",
    desc: `${rows.length} payments, ${formatUnits(total, decimals)} ${unit} in all, summed per ${sums[0]?.[0].length === 7 ? "month" : "day"}.`,
    bars,
    unit: `Paid (${unit})`,
    category: sums[0]?.[0].length === 7 ? "Month" : "Day",
  });
}

/** How many tasks are in each state. */
export function taskStatesChart(states: Record<string, number>): string {
  const bars: Bar[] = Object.entries(states).map(([label, value]) => ({ label, value, text: String(value) }));
  const total = bars.reduce((a, b) => a + b.value, 0);
  return barChart({
    title: "Task states",
    desc: `${total} tasks: ${bars.map((b) => `${b.value} ${b.label.toLowerCase()}`).join(", ")}.`,
    bars,
    unit: "Tasks",
    category: "State",
    color: "#16a34a",
    integer: true,
  });
}

/** A contributor's earnings per month, in one token. */
export function earningsChart(rows: readonly { at: Date; amount: bigint }[], decimals: number, unit: string): string {
  const sums = bucket(rows, "month");
  const total = rows.reduce((a, r) => a + r.amount, 0n);
  return barChart({
    title: `Earnings per month (${unit})`,
    desc: `${rows.length} payments received, ${formatUnits(total, decimals)} ${unit} in all.`,
    bars: sums.map(([label, v]) => ({ label, value: num(v, decimals), text: `${formatUnits(v, decimals)} ${unit}` })),
    unit: `Received (${unit})`,
    category: "Month",
    color: "#7c3aed",
  });
}

/** The earnings page's charts: one per token received, from the contributor's payments (net of fees). */
export function earningsCharts(
  rows: readonly { token: string; tokenDecimals: number; amount: string; fee: string | null; paidAt: Date | null }[],
): string {
  const byToken = new Map<string, { decimals: number; rows: { at: Date; amount: bigint }[] }>();
  for (const r of rows) {
    if (!r.paidAt) continue;
    const key = `${r.token}:${r.tokenDecimals}`;
    const entry = byToken.get(key) ?? { decimals: r.tokenDecimals, rows: [] };
    entry.rows.push({ at: r.paidAt, amount: BigInt(r.amount) - BigInt(r.fee ?? "0") });
    byToken.set(key, entry);
  }
  return [...byToken].map(([key, e]) => earningsChart(e.rows, e.decimals, key.split(":")[0]!)).join("");
}
