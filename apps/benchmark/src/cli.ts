#!/usr/bin/env node
/**
 * forgetless-bench: workloads on every available backend (cpu, wasm with and without SIMD, tfjs-node
 * when installed), the agreement of backends, the PyTorch peer, scaling sweeps; results.json,
 * report.md and SVG charts in out/<date>_<host>/. See main.ts.
 *   forgetless-bench [--backends cpu,wasm,wasm-nosimd] [--only steps,importances] [--quick] [--out dir]
 */
import { main } from './main.js';

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(`forgetless-bench: ${(e as Error).message}`);
  if (process.env.FORGETLESS_DEBUG) console.error(e);
  process.exit(1);
});
