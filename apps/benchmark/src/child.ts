/**
 * Targets that need a process of their own (wasm without SIMD) run as a child of the CLI:
 * `cli.js --child <target> --only … [--quick] [--part <part>] --child-out <file>`. The child runs the
 * per-backend workloads and writes their rows, notes, timings and artifacts (float32 arrays as
 * base64) to the file; the parent merges them as if it had run them itself. A workload that
 * measures memory runs each of its parts in a child of its own (`--part`), so that the process's
 * peak RSS is that part's.
 */
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { WorkloadResult } from './workload.js';

export interface TargetRun {
  label: string;
  results: Record<string, WorkloadResult & { seconds: number; error?: string }>;
}

interface Encoded {
  label: string;
  results: Record<string, { rows: WorkloadResult['rows']; notes: string[]; seconds: number; error?: string; artifacts?: Record<string, string> }>;
}

export async function writeTargetRun(file: string, run: TargetRun): Promise<void> {
  const enc: Encoded = { label: run.label, results: {} };
  for (const [w, r] of Object.entries(run.results)) {
    const artifacts = r.artifacts
      ? Object.fromEntries(Object.entries(r.artifacts).map(([k, a]) => [k, Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')]))
      : undefined;
    enc.results[w] = { rows: r.rows, notes: r.notes, seconds: r.seconds, ...(r.error ? { error: r.error } : {}), ...(artifacts ? { artifacts } : {}) };
  }
  await writeFile(file, JSON.stringify(enc));
}

export async function readTargetRun(file: string): Promise<TargetRun> {
  const enc = JSON.parse(await readFile(file, 'utf8')) as Encoded;
  const results: TargetRun['results'] = {};
  for (const [w, r] of Object.entries(enc.results)) {
    const artifacts = r.artifacts
      ? Object.fromEntries(
          Object.entries(r.artifacts).map(([k, b64]) => {
            const b = Buffer.from(b64, 'base64');
            return [k, new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];
          }),
        )
      : undefined;
    results[w] = { rows: r.rows, notes: r.notes, seconds: r.seconds, ...(r.error ? { error: r.error } : {}), ...(artifacts ? { artifacts } : {}) };
  }
  return { label: enc.label, results };
}

/** The CLI script a child runs: dist/cli.js (also when this module runs from src/ under vitest). */
export function cliScript(): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? fileURLToPath(new URL('../dist/cli.js', import.meta.url)) : fileURLToPath(new URL('./cli.js', import.meta.url));
}

/**
 * Runs the per-backend workloads `only` on `target` in a child process; its progress goes to our
 * stderr. With `part`, the workloads run only that part of themselves (`RunOptions.part`).
 */
export async function runInChild(target: string, only: readonly string[], quick: boolean, scratch: string, part?: string): Promise<TargetRun> {
  const file = `${scratch}/child-${target}${part ? `-${part}` : ''}.json`;
  const args = [cliScript(), '--child', target, '--only', only.join(','), '--child-out', file, ...(quick ? ['--quick'] : []), ...(part ? ['--part', part] : [])];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) throw new Error(`the child process for ${target} exited with code ${code}`);
  try {
    return await readTargetRun(file);
  } finally {
    await rm(file, { force: true });
  }
}
