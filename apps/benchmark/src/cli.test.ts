// Smoke test of forgetless-bench: the whole pipeline in quick mode (tiny sizes, few runs) on cpu,
// wasm and wasm without SIMD (a child process running dist/cli.js: build first), with tensorflow
// asked for and skipped. It checks the wiring and the outputs, not the figures.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliScript } from './child.js';
import { type BenchResults, WORKLOADS, main } from './main.js';

let out: string;
let dir: string;
let results: BenchResults;

beforeAll(async () => {
  if (!existsSync(cliScript())) throw new Error(`${cliScript()} is missing: build the app first (npx turbo run build --filter=@forgetless/benchmark...)`);
  out = await mkdtemp(join(tmpdir(), 'forgetless-bench-test-'));
  const r = await main(['--quick', '--backends', 'cpu,wasm,wasm-nosimd,tensorflow', '--out', out]);
  if (!r) throw new Error('main returned nothing');
  dir = r.dir;
  results = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')) as BenchResults;
}, 300_000); // ~40 s on a quiet machine; several times that on a loaded 2-core one

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

describe('forgetless-bench --quick', () => {
  it('runs the available backends and skips tensorflow with the reason', () => {
    const status = Object.fromEntries(results.backends.map((b) => [b.target, b]));
    expect(status.cpu?.status).toBe('ran');
    expect(status.wasm?.label).toBe('wasm (SIMD)');
    expect(status['wasm-nosimd']?.label).toBe('wasm (no SIMD)');
    expect(status.tensorflow?.status).toBe('skipped');
    expect(status.tensorflow?.reason).toMatch(/@tensorflow\/tfjs-node/);
    expect(results.failures).toEqual([]);
  });

  it('has every workload, with numeric medians on every backend that ran it', () => {
    expect(Object.keys(results.workloads).sort()).toEqual(Object.keys(WORKLOADS).sort());
    for (const w of ['steps', 'sig-si', 'ewc', 'wva', 'pruning', 'eval', 'scaling']) {
      const rows = results.workloads[w]?.rows ?? [];
      const backends = new Set(rows.map((r) => r.backend));
      expect(backends, w).toContain('wasm');
      // wva's quick mode is too slow for a smoke test on cpu and wasm without SIMD (main.ts: quickSkip)
      if (w !== 'wva') expect(backends, w).toContain('wasm-nosimd');
      if (w !== 'wva') expect(backends, w).toContain('cpu');
      for (const r of rows) {
        expect(typeof r.median_ms, `${w}: ${JSON.stringify(r)}`).toBe('number');
        expect(Number.isFinite(r.median_ms) && (r.median_ms as number) >= 0).toBe(true);
      }
    }
    const imp = results.workloads.importances?.rows ?? [];
    expect(imp.length).toBeGreaterThan(0);
    for (const r of imp) expect(typeof r.msPerSample).toBe('number');
  });

  it('compares the backends on the same seeded computation', () => {
    const rows = results.workloads.agreement?.rows ?? [];
    const initial = rows.find((r) => r.quantity === 'MLP initial parameters');
    expect(initial?.['wasm vs cpu']).toBe(0);
    expect(initial?.['wasm-nosimd vs cpu']).toBe(0);
    for (const r of rows) {
      for (const k of ['wasm vs cpu', 'wasm-nosimd vs cpu']) {
        expect(typeof r[k], `${r.quantity} ${k}`).toBe('number');
        expect(r[k] as number).toBeLessThan(1e-2);
      }
    }
  });

  it('times the imported MobileNetV2 beside tfjs-layers on every backend, with memory', () => {
    const rows = results.workloads.mobilenet?.rows ?? [];
    const impl = (r: (typeof rows)[number]) => String(r.implementation);
    for (const b of ['cpu', 'wasm', 'wasm-nosimd']) {
      const mine = rows.filter((r) => r.backend === b);
      const step = mine.find((r) => r.measure === 'training step' && impl(r).startsWith('forgetless'));
      expect(typeof step?.median_ms, `${b}: ${JSON.stringify(step)}`).toBe('number');
      expect(step?.peak_rss_mb as number).toBeGreaterThan(0);
      expect(typeof step?.tf_mb_after).toBe('number');
      // the tfjs-layers step either ran or says why not, with tfjs's message
      const stock = mine.find((r) => r.measure === 'training step' && impl(r).includes("tfjs's own gradients"));
      expect(String(stock?.status)).toMatch(/^(ok|fails: \S)/);
      for (const path of ["'fast'", "'loop'"]) {
        const fis = mine.find((r) => r.measure === 'FIS empirical' && impl(r).includes(path));
        expect(typeof fis?.ms_per_example, `${b} ${path}`).toBe('number');
        expect(typeof fis?.x_forward_backward).toBe('number');
      }
    }
    const torch = rows.filter((r) => r.backend === 'torch 1 thread');
    if (torch.length === 0) expect(results.workloads.mobilenet?.notes.join(' ')).toMatch(/torch peer skipped: /);
    else expect(typeof rows.find((r) => r.backend === 'wasm' && r.measure === 'training step')?.vs_torch).toBe('number');
  });

  it('runs the torch peer where /usr/bin/python3 has torch, and says why not elsewhere', () => {
    const peer = results.workloads.peer;
    expect(peer).toBeDefined();
    if ((peer?.rows.length ?? 0) === 0) {
      expect(peer?.notes.join(' ')).toMatch(/skipped: /);
      return;
    }
    const step = peer?.rows.find((r) => r.comparison === 'MLP step');
    expect(typeof step?.torch_ms).toBe('number');
    expect(typeof step?.wasm_ratio).toBe('number');
  });

  it('writes the markdown tables and SVG charts with marks', async () => {
    const md = await readFile(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('## Ratios at a glance');
    for (const w of Object.values(WORKLOADS)) expect(md).toContain(`## ${w.title}`);
    expect(md).toMatch(/\| backend \| status \|/);
    expect(md).toMatch(/tensorflow \| skipped: /);
    for (const svg of ['steps.svg', 'scaling-batch.svg', 'scaling-width.svg', 'eval-throughput.svg']) {
      expect(results.charts).toContain(svg);
      const text = await readFile(join(dir, svg), 'utf8');
      expect(text.startsWith('<svg')).toBe(true);
      expect(text).toMatch(/class="mark-(rect|line|symbol)/);
      expect(md).toContain(`](${svg})`);
    }
  });
});
