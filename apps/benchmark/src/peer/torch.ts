/**
 * The PyTorch peer: `torch_peer.py` run by Debian's `/usr/bin/python3` (python3-torch; another
 * interpreter through FORGETLESS_BENCH_PYTHON) on the shapes this run measured, reported beside the
 * project's figures as ratios project / torch (> 1: the project is slower). Torch runs on one
 * thread, as tfjs's cpu and wasm backends do in Node.
 * Skipped, with the reason, when the interpreter or torch is missing.
 * (The script is not called torch.py: Python puts the script's folder first on sys.path, so a
 * torch.py there would shadow the torch package.)
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FinishContext, Row, WorkloadResult } from '../workload.js';
import { convStepBatch, stepShapes } from '../workloads/train-step.js';

/** The script, found from src/peer or dist/peer alike. */
export const PEER_SCRIPT = fileURLToPath(new URL('../../src/peer/torch_peer.py', import.meta.url));

export interface TorchRow {
  workload: 'step' | 'fisher loop' | 'fisher vmap' | 'fisher closed form' | 'forward backward';
  model: 'mlp' | 'conv' | 'mobilenet';
  batch: number;
  samples: number;
  median_ms: number;
  min_ms: number;
  max_ms: number;
  runs: number;
  /** Median CPU time of the torch process per run (every thread), ms. */
  cpu_median_ms?: number;
  /** mobilenet rows: the process's peak RSS after the row (ru_maxrss), its parameter count and blocks kept. */
  peak_rss_mb?: number;
  params?: number;
  blocks?: number;
}

export interface TorchReport {
  torch: string;
  blas: string;
  python: string;
  threads: number;
  cpu_count: number;
  per_example: string;
  rows: TorchRow[];
}

export function pythonPath(): string {
  return process.env.FORGETLESS_BENCH_PYTHON ?? '/usr/bin/python3';
}

function run(python: string, args: string[], threads: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // OpenBLAS and OpenMP start their own thread pools unless told otherwise.
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    const child = spawn(python, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const INSTALL = "install Debian's python3-torch and python3-torchvision: apps/benchmark/scripts/install-peer.sh";

/** The peer is missing here (no interpreter, or no torch for it): the reason, for the report. */
export class PeerUnavailable extends Error {}

/** Runs the peer script on `threads` threads. */
export async function runTorch(args: string[], threads: number): Promise<TorchReport> {
  const python = pythonPath();
  if (!existsSync(python)) throw new PeerUnavailable(`${python} does not exist (${INSTALL})`);
  const r = await run(python, [PEER_SCRIPT, '--json', '--threads', String(threads), ...args], threads);
  const last = r.stderr.trim().split('\n').at(-1) ?? '';
  if (r.code !== 0 && /No module named '(torch|torch\.nn|torchvision)'/.test(r.stderr))
    throw new PeerUnavailable(`torch or torchvision is not importable by ${python}: ${last} (${INSTALL})`);
  if (r.code !== 0) throw new Error(`torch peer failed (exit ${r.code}): ${last}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as TorchReport;
}

type Project = { backend: string; ms: number };

/** The project's figures for a comparison, per backend, from the rows of the step and importance workloads. */
function projectSteps(ctx: FinishContext, model: 'MLP' | 'conv net', batch: number): Project[] {
  return (ctx.results.steps?.rows ?? [])
    .filter((r) => r.model === model && r.gradients === 'forgetless' && r.batch === batch)
    .map((r) => ({ backend: String(r.backend), ms: Number(r.median_ms) }));
}

/** Per-example time (ms) of the importances workload's FIS rows: path 'fast' or the loop. */
function projectFisher(ctx: FinishContext, model: 'mlp' | 'conv', path: 'fast' | 'loop'): Project[] {
  return (ctx.results.importances?.rows ?? [])
    .filter((r) => String(r.model).toLowerCase().includes(model) && r.method === 'FIS empirical' && String(r.path).startsWith(path))
    .map((r) => ({ backend: String(r.backend), ms: Number(r.msPerSample) }));
}

export async function finishTorchPeer(ctx: FinishContext): Promise<WorkloadResult> {
  const q = ctx.quick;
  const shapes = stepShapes(q);
  const convBatches = [...new Set(ctx.targets.map((t) => convStepBatch(t, q)))].sort((a, b) => a - b);
  const args = [
    '--mlp',
    shapes.mlp.join('-'),
    '--mlp-batch',
    String(shapes.mlpBatch),
    '--conv-width',
    String(shapes.convWidth),
    '--conv-batches',
    convBatches.join(','),
    // the importances workload's shapes: the full MLP and conv net
    '--fisher-mlp',
    '784-300-150-10',
    '--fisher-conv-width',
    '1',
    '--fisher-mlp-samples',
    q ? '100' : '1000',
    '--fisher-conv-samples',
    q ? '10' : '500',
    '--fisher-conv-loop-samples',
    q ? '2' : '50',
    '--runs',
    q ? '2' : '5',
    '--warmup',
    q ? '1' : '2',
  ];
  let one: TorchReport;
  try {
    one = await runTorch(args, 1);
  } catch (e) {
    if (e instanceof PeerUnavailable) return { rows: [], notes: [`skipped: ${e.message}`] };
    throw e;
  }
  const find = (r: TorchReport, workload: TorchRow['workload'], model: TorchRow['model'], batch?: number) =>
    r.rows.find((x) => x.workload === workload && x.model === model && (batch === undefined || x.batch === batch));

  const rows: Row[] = [];
  const add = (comparison: string, shape: string, torch: TorchRow | undefined, perExample: boolean, project: Project[]) => {
    if (!torch) return;
    const t = perExample ? torch.median_ms / torch.samples : torch.median_ms;
    const row: Row = {
      comparison,
      shape,
      torch_ms: t,
      torch_range_ms: perExample
        ? `${(torch.min_ms / torch.samples).toPrecision(3)}–${(torch.max_ms / torch.samples).toPrecision(3)}`
        : `${torch.min_ms.toPrecision(3)}–${torch.max_ms.toPrecision(3)}`,
    };
    for (const p of project) {
      row[`${p.backend}_ms`] = p.ms;
      row[`${p.backend}_ratio`] = Number((p.ms / t).toPrecision(3));
    }
    rows.push(row);
  };
  add('MLP step', `${shapes.mlp.join('-')}, batch ${shapes.mlpBatch}`, find(one, 'step', 'mlp'), false, projectSteps(ctx, 'MLP', shapes.mlpBatch));
  for (const b of convBatches) {
    add('conv net step', `width ×${shapes.convWidth}, batch ${b}`, find(one, 'step', 'conv', b), false, projectSteps(ctx, 'conv net', b));
  }
  add('MLP FIS per example: fast path / functorch vmap', '784-300-150-10', find(one, 'fisher vmap', 'mlp'), true, projectFisher(ctx, 'mlp', 'fast'));
  add('MLP FIS per example: fast path / same closed form in torch', '784-300-150-10', find(one, 'fisher closed form', 'mlp'), true, projectFisher(ctx, 'mlp', 'fast'));
  add('MLP FIS per example: loop / torch loop', '784-300-150-10', find(one, 'fisher loop', 'mlp'), true, projectFisher(ctx, 'mlp', 'loop'));
  add('conv net FIS per example: fast path / functorch vmap', 'full width', find(one, 'fisher vmap', 'conv'), true, projectFisher(ctx, 'conv', 'fast'));
  add('conv net FIS per example: loop / torch loop', 'full width', find(one, 'fisher loop', 'conv'), true, projectFisher(ctx, 'conv', 'loop'));
  const notes = [
    `PyTorch ${one.torch} (Python ${one.python}, ${pythonPath()}), BLAS: ${one.blas}; torch on ${one.threads} thread (set_num_threads, and OpenBLAS/OpenMP told the same), as tfjs's cpu and wasm backends use one core in Node. Median of ${q ? 2 : 5} runs after a warm-up.`,
    `Steps: ms per step; FIS rows: ms per example. <backend>_ratio = project / torch (above 1: the project is slower), from the project's medians in this run (steps: forgetless gradients; FIS: the importances workload's per-example times). Torch's per-example Fisher: ${one.per_example}; also the closed form forgetless uses, (Δ∘Δ)ᵀ(X∘X) per dense layer, written in torch.`,
    `Torch's conv-net loop runs on ${q ? 2 : 50} examples and its vmap on ${q ? 10 : 500} (per-example figures). The same steps in both: SGD lr 0.01, mean cross-entropy, training-mode batch norm; FIS in inference mode.`,
  ];
  if (!ctx.results.steps && !ctx.results.importances) notes.push('The step and importance workloads did not run: torch figures only, no ratios.');
  return { rows, notes };
}
