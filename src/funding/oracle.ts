// Reading a Chainlink AggregatorV3-compatible price feed.
import type { Address } from "viem";
import type { ChainConnection } from "../chain/client";
import type { PriceReading } from "./quote";

/** The part of AggregatorV3Interface a quote needs. */
export const AGGREGATOR_V3_ABI = [
  { type: "function", name: "decimals", stateMutability: "view", inputs: [], outputs: [{ name: "", type: "uint8" }] },
  {
    type: "function",
    name: "latestRoundData",
    stateMutability: "view",
    inputs: [],
    outputs: [
      { name: "roundId", type: "uint80" },
      { name: "answer", type: "int256" },
      { name: "startedAt", type: "uint256" },
      { name: "updatedAt", type: "uint256" },
      { name: "answeredInRound", type: "uint80" },
    ],
  },
] as const;

/** Reads the latest answer of a feed. */
export async function readPrice(conn: ChainConnection, feed: Address): Promise<PriceReading> {
  const [decimals, [roundId, answer, , updatedAt, answeredInRound]] = await Promise.all([
    conn.publicClient.readContract({ address: feed, abi: AGGREGATOR_V3_ABI, functionName: "decimals" }),
    conn.publicClient.readContract({ address: feed, abi: AGGREGATOR_V3_ABI, functionName: "latestRoundData" }),
  ]);
  return { answer, decimals, updatedAt: Number(updatedAt), roundId, answeredInRound };
}
