import { describe, expect, test } from "bun:test";
import { ceilDiv, checkPrice, computeQuote, type PriceReading, splitByWeight, usdCentsToTokenUnits } from "./quote";

const price = (answer: bigint, decimals = 8): PriceReading => ({
  answer,
  decimals,
  updatedAt: 1_000,
  roundId: 5n,
  answeredInRound: 5n,
});

describe("funding/quote", () => {
  test("6-decimal stablecoin at $1: 120 points × $50 = 6,000 tokens exactly", () => {
    const q = computeQuote({
      points: [50, 40, 30],
      pointRateUsdCents: 5000,
      tokenDecimals: 6,
      price: price(1_00000000n),
    });
    expect(q.totalPoints).toBe(120);
    expect(q.usdCents).toBe(600_000n);
    expect(q.amount).toBe(6_000_000_000n);
    expect(q.payouts).toEqual([2_500_000_000n, 2_000_000_000n, 1_500_000_000n]);
  });

  test("18-decimal coin at $3,000: exact wei, rounded up", () => {
    // $6,000 / $3,000 = 2 ETH exactly
    expect(usdCentsToTokenUnits(600_000n, 18, price(3_000_00000000n))).toBe(2n * 10n ** 18n);
    // $100 / $3,000 = 0.0333… ETH → 33333333333333334 wei (ceil)
    expect(usdCentsToTokenUnits(10_000n, 18, price(3_000_00000000n))).toBe(33_333_333_333_333_334n);
    // a price with cents in it: $2,999.99 → 10000e18*1e8 / (100 * 299999000000) ceil
    const wei = usdCentsToTokenUnits(10_000n, 18, price(2_999_99000000n));
    expect(wei).toBe(ceilDiv(10_000n * 10n ** 18n * 10n ** 8n, 100n * 2_999_99000000n));
    expect(wei * 2_999_99000000n * 100n >= 10_000n * 10n ** 26n).toBe(true); // covers the dollars
    expect((wei - 1n) * 2_999_99000000n * 100n < 10_000n * 10n ** 26n).toBe(true); // and not a unit more
  });

  test("6-decimal token with an 18-decimal feed and an odd price", () => {
    // 7 points × 333 cents = $23.31 at $0.97 per token → 24.0309278… tokens → 24030928 units
    const q = computeQuote({
      points: [7],
      pointRateUsdCents: 333,
      tokenDecimals: 6,
      price: price(97n * 10n ** 16n, 18),
    });
    expect(q.amount).toBe(24_030_928n);
  });

  test("payouts always add up to the quoted amount", () => {
    for (const [total, weights] of [
      [10n, [1, 1, 1]],
      [33_333_333_333_333_334n, [3, 5, 8, 13]],
      [1n, [1, 1]],
      [999_999n, [1, 2, 3, 4, 5, 6, 7]],
    ] as const) {
      const shares = splitByWeight(total, weights);
      expect(shares.reduce((a, b) => a + b, 0n)).toBe(total);
      const sum = BigInt(weights.reduce((a, b) => a + b, 0));
      shares.forEach((s, i) => {
        const exactFloor = (total * BigInt(weights[i]!)) / sum;
        expect(s === exactFloor || s === exactFloor + 1n).toBe(true);
      });
    }
    expect(splitByWeight(10n, [1, 1, 1])).toEqual([4n, 3n, 3n]);
  });

  test("bad inputs are refused", () => {
    expect(() => computeQuote({ points: [], pointRateUsdCents: 100, tokenDecimals: 6, price: price(1n) })).toThrow();
    expect(() => computeQuote({ points: [1.5], pointRateUsdCents: 100, tokenDecimals: 6, price: price(1n) })).toThrow();
    expect(() => usdCentsToTokenUnits(1n, 6, price(0n))).toThrow();
    expect(() => checkPrice(price(-1n), 1_000, 60)).toThrow(/non-positive/);
    expect(() => checkPrice(price(1n), 5_000, 60)).toThrow(/stale/);
    expect(() => checkPrice({ ...price(1n), answeredInRound: 4n }, 1_000, 60)).toThrow(/incomplete/);
    expect(() => checkPrice(price(1n), 1_030, 60)).not.toThrow();
  });
});
