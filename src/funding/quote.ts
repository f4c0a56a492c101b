// Funding quote arithmetic (spec §3.1.5): Σ points × point rate ÷ token price, in integers only, in the token's
// base units. Rates are US cents per point; prices come from a Chainlink AggregatorV3-style feed (an integer
// answer with its own decimals). No floating point anywhere: every amount is a bigint.
import { AppError } from "../core/errors";

/** A feed reading: `answer / 10^decimals` US dollars per whole token. */
export interface PriceReading {
  answer: bigint;
  decimals: number;
  updatedAt: number; // unix seconds
  roundId: bigint;
  answeredInRound: bigint;
}

/** The inputs of a quote. */
export interface QuoteInput {
  points: readonly number[]; // task points
  pointRateUsdCents: number;
  tokenDecimals: number;
  price: PriceReading;
}

/** A computed quote. `amount` is what the sponsor deposits; `payouts[i]` is task i's share of it. */
export interface QuoteAmounts {
  totalPoints: number;
  usdCents: bigint;
  amount: bigint;
  payouts: bigint[];
}

const pow10 = (n: number) => 10n ** BigInt(n);

/** ceil(a / b) for non-negative a and positive b. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  if (b <= 0n || a < 0n) throw new RangeError("ceilDiv expects a ≥ 0 and b > 0");
  return (a + b - 1n) / b;
}

/** Rejects a feed answer that cannot price anything: non-positive, stale, or from an incomplete round. */
export function checkPrice(price: PriceReading, nowSeconds: number, maxAgeSeconds: number): void {
  if (price.answer <= 0n) throw new AppError("INVALID_INPUT", "the price feed returned a non-positive price", 503);
  if (price.answeredInRound < price.roundId)
    throw new AppError("UNAVAILABLE", "the price feed round is incomplete", 503);
  if (nowSeconds - price.updatedAt > maxAgeSeconds) {
    throw new AppError("UNAVAILABLE", "the price feed is stale", 503, { updatedAt: price.updatedAt });
  }
}

/**
 * Token base units worth `usdCents`, rounded up so the deposit always covers the dollar value:
 * ceil(usdCents × 10^tokenDecimals × 10^priceDecimals / (100 × answer)).
 */
export function usdCentsToTokenUnits(usdCents: bigint, tokenDecimals: number, price: PriceReading): bigint {
  if (!Number.isInteger(tokenDecimals) || tokenDecimals < 0 || tokenDecimals > 36) {
    throw new RangeError(`invalid token decimals: ${tokenDecimals}`);
  }
  if (price.answer <= 0n) throw new RangeError("price must be positive");
  return ceilDiv(usdCents * pow10(tokenDecimals) * pow10(price.decimals), 100n * price.answer);
}

/**
 * Splits `total` over weights exactly (largest remainder): every share is floor or floor+1 of its exact value and
 * the shares add up to `total`, so the deposit equals the sum of the payouts to the base unit.
 */
export function splitByWeight(total: bigint, weights: readonly number[]): bigint[] {
  const w = weights.map((x) => {
    if (!Number.isInteger(x) || x < 0) throw new RangeError(`invalid weight: ${x}`);
    return BigInt(x);
  });
  const sum = w.reduce((a, b) => a + b, 0n);
  if (sum === 0n) return w.map(() => 0n);
  const shares = w.map((x) => (total * x) / sum);
  let rest = total - shares.reduce((a, b) => a + b, 0n);
  // hand the leftover units to the largest remainders; ties go to the earlier item (deterministic)
  const order = w
    .map((x, i) => ({ i, rem: (total * x) % sum }))
    .sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (const { i } of order) {
    if (rest === 0n) break;
    shares[i]! += 1n;
    rest -= 1n;
  }
  return shares;
}

/** Computes a quote: total points, their dollar value, the token amount and each task's payout. */
export function computeQuote(input: QuoteInput): QuoteAmounts {
  if (!Number.isInteger(input.pointRateUsdCents) || input.pointRateUsdCents <= 0) {
    throw new RangeError("point rate must be a positive integer of cents");
  }
  const totalPoints = input.points.reduce((a, p) => {
    if (!Number.isInteger(p) || p < 0) throw new RangeError(`invalid points: ${p}`);
    return a + p;
  }, 0);
  if (totalPoints === 0) throw new AppError("INVALID_INPUT", "the project has no points to fund", 422);
  const usdCents = BigInt(totalPoints) * BigInt(input.pointRateUsdCents);
  const amount = usdCentsToTokenUnits(usdCents, input.tokenDecimals, input.price);
  return { totalPoints, usdCents, amount, payouts: splitByWeight(amount, input.points) };
}
