/** The shape of a benchmark workload, shared by the CLI and every workload file. */

export type Row = Record<string, string | number>;

export interface RunOptions {
  /** The target's name as it appears in the rows: cpu, wasm, wasm-nosimd, tensorflow, tensorflow-gpu. */
  backend: string;
  /** Tiny sizes and few runs: the smoke test, not figures to quote. */
  quick: boolean;
  /**
   * Set in a child process started to run one part of a workload that runs its parts in processes
   * of their own (`runInChild(…, part)`): run that part only.
   */
  part?: string;
}

export interface WorkloadResult {
  rows: Row[];
  notes: string[];
  /** Raw numbers a later cross-backend step compares (agreement); not written to the report. */
  artifacts?: Record<string, Float32Array>;
}

export interface FinishContext {
  quick: boolean;
  /** Targets that ran, in order. */
  targets: string[];
  /** Every per-backend workload's merged rows and notes so far. */
  results: Record<string, { rows: Row[]; notes: string[] }>;
  /** Artifacts per workload, per target. */
  artifacts: Record<string, Record<string, Record<string, Float32Array>>>;
}

export interface Workload {
  title: string;
  /** Runs once per target, with that target's backend active. */
  run?: (opts: RunOptions) => Promise<WorkloadResult>;
  /** Backends this workload skips in quick mode, and why (its quick mode is too slow there for a smoke test). */
  quickSkip?: { backends: string[]; reason: string };
  /** Runs once after every target, from what they measured (cross-backend comparisons, the peer). */
  finish?: (ctx: FinishContext) => Promise<WorkloadResult>;
}
