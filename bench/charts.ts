// How long a funding chart takes to render on the server: the burn-down and the payouts-over-time chart over
// 1,000 payments (target ≤ 20 ms each). Usage: bun bench/charts.ts
import { burnDownChart, payoutsChart } from "../src/charts/funding";

const N = 1_000;
const start = Date.UTC(2026, 0, 1);
const payments = Array.from({ length: N }, (_, i) => ({
  at: new Date(start + i * 3 * 3_600_000 + ((i * 7919) % 3_600_000)),
  amount: 10n ** 15n + BigInt((i * 104729) % 1_000_000) * 10n ** 9n,
}));
const total = payments.reduce((a, p) => a + p.amount, 0n);
const moves = [
  { at: new Date(start - 86_400_000), delta: total },
  ...payments.map((p) => ({ at: p.at, delta: -p.amount })),
];

function time(name: string, fn: () => string) {
  for (let i = 0; i < 5; i++) fn(); // warm up
  const runs: number[] = [];
  let size = 0;
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    size = fn().length;
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  const median = runs[Math.floor(runs.length / 2)]!;
  const p95 = runs[Math.floor(runs.length * 0.95)]!;
  const cold = runs.at(-1)!;
  console.log(
    `${name}: median ${median.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms, max ${cold.toFixed(2)} ms, ${(size / 1024).toFixed(0)} KiB ${median <= 20 ? "(≤ 20 ms: ok)" : "(over the 20 ms target)"}`,
  );
}

const t0 = performance.now();
burnDownChart(moves, 18, "ETH");
console.log(`first render (cold): ${(performance.now() - t0).toFixed(2)} ms`);
time(`burn-down over ${N} payments`, () => burnDownChart(moves, 18, "ETH"));
time(`payouts over time, ${N} payments`, () => payoutsChart(payments, 18, "ETH"));
