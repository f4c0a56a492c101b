// The server-rendered charts: accessible names, a table with the same data, escaping, and sums that match.
import { describe, expect, test } from "bun:test";
import { bucket, burnDownChart, earningsCharts, payoutsChart, taskStatesChart } from "./funding";
import { barChart, esc, niceTicks } from "./svg";

const day = (d: number) => new Date(Date.UTC(2026, 10, d, 12));

describe("charts", () => {
  test("an SVG names itself and carries a data table", () => {
    const svg = barChart({
      title: "T <x>",
      desc: "D & d",
      bars: [{ label: "a", value: 2 }],
      unit: "n",
      category: "Letter",
    });
    expect(svg).toMatch(/<svg[^>]*role="img"[^>]*aria-labelledby="(chart-\w+)-t \1-d"/);
    expect(svg).toContain("<title id=");
    expect(svg).toContain("T &#60;x&#62;");
    expect(svg).toContain("D &#38; d");
    expect(svg).not.toContain("<x>");
    expect(svg).toContain("<details><summary>Data table</summary>");
    expect(svg).toContain("<td>a</td><td>2</td>");
    expect(svg).toContain('<th scope="col">Letter</th>');
  });

  test("the burn-down steps through deposits, payments and the refund", () => {
    const svg = burnDownChart(
      [
        { at: day(1), delta: 10n ** 18n },
        { at: day(2), delta: -(3n * 10n ** 17n) },
        { at: day(3), delta: 5n * 10n ** 17n },
        { at: day(4), delta: -(12n * 10n ** 17n) },
      ],
      18,
      "ETH",
    );
    const cells = [...svg.matchAll(/<tr><td>[^<]+<\/td><td>([^<]+)<\/td><\/tr>/g)].map((m) => m[1]);
    expect(cells).toEqual(["1", "0.7", "1.2", "0"]);
    expect(svg).toContain("now 0 ETH");
    expect(svg).toMatch(/<path d="M[\d.]+ [\d.]+(H[\d.]+V[\d.]+)+H[\d.]+"/);
  });

  test("payouts are summed per day; task states counted; earnings per token and month", () => {
    const rows = [
      { at: day(1), amount: 5n },
      { at: new Date(day(1).getTime() + 3_600_000), amount: 7n },
      { at: day(3), amount: 1n },
    ];
    expect(bucket(rows)).toEqual([
      ["2026-11-01", 12n],
      ["2026-11-03", 1n],
    ]);
    expect(payoutsChart(rows, 0, "T")).toContain("<td>2026-11-01</td><td>12 T</td>");
    const states = taskStatesChart({ OPEN: 2, CLAIMED: 1, PAID: 3 });
    expect(states).toContain("6 tasks: 2 open, 1 claimed, 3 paid.");
    const earnings = earningsCharts([
      { token: "ETH", tokenDecimals: 18, amount: "1000000000000000000", fee: "25000000000000000", paidAt: day(2) },
      { token: "dUSD", tokenDecimals: 6, amount: "2000000", fee: null, paidAt: day(2) },
      { token: "dUSD", tokenDecimals: 6, amount: "1000000", fee: "0", paidAt: new Date(Date.UTC(2026, 11, 1)) },
    ]);
    expect(earnings.match(/<figure/g)).toHaveLength(2);
    expect(earnings).toContain("<td>2026-11</td><td>0.975 ETH</td>");
    expect(earnings).toContain("<td>2026-11</td><td>2 dUSD</td></tr>");
    expect(earnings).toContain("<td>2026-12</td><td>1 dUSD</td>");
  });

  test("ticks are round and reach the maximum; an empty chart says so", () => {
    expect(niceTicks(930)).toEqual([0, 250, 500, 750, 1000]);
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(2, 4, 1)).toEqual([0, 1, 2]);
    expect(barChart({ title: "x", desc: "y", bars: [], unit: "n", category: "c" })).toContain("No data yet");
    expect(esc(`"'&`)).toBe("&#34;&#39;&#38;");
  });
});
