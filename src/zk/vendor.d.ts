// Minimal typings for the untyped zk libraries, covering only what this project calls.

declare module "circomlibjs" {
  interface PoseidonField {
    toObject(value: Uint8Array): bigint;
  }
  interface Poseidon {
    (inputs: (bigint | number)[]): Uint8Array;
    F: PoseidonField;
  }
  export function buildPoseidon(): Promise<Poseidon>;
}

declare module "ffjavascript" {
  export function buildBn128(singleThread?: boolean): Promise<{ terminate(): Promise<void> }>;
  export function getCurveFromName(name: string, singleThread?: boolean): Promise<{ terminate(): Promise<void> }>;
}

declare module "snarkjs" {
  export interface Groth16Proof {
    pi_a: string[];
    pi_b: string[][];
    pi_c: string[];
    protocol: string;
    curve: string;
  }
  type Bytes = Uint8Array | { type: "mem"; data: Uint8Array } | string;
  type Logger = { debug?(m: string): void; info?(m: string): void; warn?(m: string): void; error?(m: string): void };
  export const groth16: {
    fullProve(
      input: Record<string, unknown>,
      wasm: Bytes,
      zkey: Bytes,
      logger?: Logger,
      wtnsCalcOptions?: Record<string, unknown>,
      proverOptions?: Record<string, unknown>,
    ): Promise<{ proof: Groth16Proof; publicSignals: string[] }>;
    verify(vk: unknown, publicSignals: string[], proof: Groth16Proof, logger?: Logger): Promise<boolean>;
    exportSolidityCallData(proof: Groth16Proof, publicSignals: string[]): Promise<string>;
  };
  export const zKey: {
    newZKey(r1cs: Bytes, ptau: Bytes, zkey: Bytes, logger?: Logger): Promise<unknown>;
    contribute(zkeyIn: Bytes, zkeyOut: Bytes, name: string, entropy: string, logger?: Logger): Promise<Uint8Array>;
    beacon(
      zkeyIn: Bytes,
      zkeyOut: Bytes,
      name: string,
      beaconHash: string,
      numIterationsExp: number,
      logger?: Logger,
    ): Promise<unknown>;
    verifyFromR1cs(r1cs: Bytes, ptau: Bytes, zkey: Bytes, logger?: Logger): Promise<boolean>;
    verifyFromInit(zkeyInit: Bytes, ptau: Bytes, zkey: Bytes, logger?: Logger): Promise<boolean>;
    exportVerificationKey(zkey: Bytes, logger?: Logger): Promise<Record<string, unknown>>;
    exportSolidityVerifier(zkey: Bytes, templates: Record<string, string>, logger?: Logger): Promise<string>;
  };
  export const powersOfTau: {
    newAccumulator(curve: unknown, power: number, fileName: Bytes, logger?: Logger): Promise<unknown>;
    contribute(oldPtau: Bytes, newPtau: Bytes, name: string, entropy: string, logger?: Logger): Promise<unknown>;
    beacon(
      oldPtau: Bytes,
      newPtau: Bytes,
      name: string,
      beaconHash: string,
      numIterationsExp: number,
      logger?: Logger,
    ): Promise<unknown>;
    preparePhase2(oldPtau: Bytes, newPtau: Bytes, logger?: Logger): Promise<unknown>;
    verify(ptau: Bytes, logger?: Logger): Promise<boolean>;
  };
  export const r1cs: {
    info(
      r1cs: Bytes,
      logger?: Logger,
    ): Promise<{ nConstraints: number; nVars: number; nPubInputs: number; nOutputs: number }>;
  };
}

// The bundled sandbox prover, embedded as a file (import … with { type: "file" } gives its path).
declare module "*/build/prover.js" {
  const path: string;
  export default path;
}
