// Minimal ambient types for the parts of snarkjs 0.7 this project uses
// (snarkjs ships no type declarations).
declare module 'snarkjs' {
  export interface SnarkjsLogger {
    debug(msg: string): void;
    info(msg: string): void;
    warn(msg: string): void;
    error(msg: string): void;
  }
  export interface Curve {
    name: string;
    terminate(): Promise<void>;
  }
  export const curves: {
    getCurveFromName(name: string, options?: unknown): Promise<Curve>;
  };
  export const powersOfTau: {
    newAccumulator(curve: Curve, power: number, fileName: string, logger?: SnarkjsLogger): Promise<Uint8Array>;
    beacon(
      oldPtauFilename: string,
      newPTauFilename: string,
      name: string,
      beaconHashStr: string,
      numIterationsExp: number,
      logger?: SnarkjsLogger,
    ): Promise<Uint8Array | false>;
    /** Returns the contribution's response hash (64 bytes). */
    contribute(oldPtauFilename: string, newPTauFilename: string, name: string, entropy: string, logger?: SnarkjsLogger): Promise<Uint8Array>;
    preparePhase2(oldPtauFilename: string, newPTauFilename: string, logger?: SnarkjsLogger): Promise<void>;
    verify(tauFilename: string, logger?: SnarkjsLogger): Promise<boolean>;
  };
  export const groth16: {
    fullProve(input: Record<string, unknown>, wasmFile: string, zkeyFile: string, logger?: SnarkjsLogger): Promise<{ proof: unknown; publicSignals: string[] }>;
    verify(vkey: unknown, publicSignals: string[], proof: unknown, logger?: SnarkjsLogger): Promise<boolean>;
    [name: string]: (...args: any[]) => Promise<any>;
  };
  export const zKey: {
    newZKey(r1csName: string, ptauName: string, zkeyName: string, logger?: SnarkjsLogger): Promise<unknown>;
    beacon(oldZkey: string, newZkey: string, name: string, beaconHashStr: string, numIterationsExp: number, logger?: SnarkjsLogger): Promise<unknown>;
    contribute(oldZkey: string, newZkey: string, name: string, entropy: string, logger?: SnarkjsLogger): Promise<Uint8Array>;
    verifyFromInit(initZkey: string, ptauName: string, zkeyName: string, logger?: SnarkjsLogger): Promise<boolean>;
    verifyFromR1cs(r1csName: string, ptauName: string, zkeyName: string, logger?: SnarkjsLogger): Promise<boolean>;
    exportVerificationKey(zkeyName: string, logger?: SnarkjsLogger): Promise<unknown>;
    exportSolidityVerifier(zkeyName: string, templates: Record<string, string>, logger?: SnarkjsLogger): Promise<string>;
    [name: string]: (...args: any[]) => Promise<any>;
  };
  export const r1cs: Record<string, (...args: any[]) => Promise<any>>;
  export const wtns: Record<string, (...args: any[]) => Promise<any>>;
}
