/**
 * The run's ratios side by side, one line per comparison and one column per backend, read from the
 * workloads' rows: fast gradients against tfjs's stock ones, the fast per-example importances
 * against the loop, the EWC, WVA and SI overheads over the plain step, the imported MobileNetV2's
 * step against tfjs-layers' and its fast Fisher against the loop, and project / torch.
 */
import type { Row } from './workload.js';

type Results = Record<string, { rows: Row[] }>;

const x = (v: number) => `×${v >= 10 ? v.toFixed(0) : v.toFixed(2)}`;
const pct = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)} %`;

export function glance(results: Results, targets: readonly string[]): Row[] {
  const out: Row[] = [];
  /** `value` gives a number to format, or a string to show as is (e.g. "stock fails"). */
  const line = (ratio: string, rows: Row[], value: (r: Row) => number | string | undefined, fmt: (v: number) => string) => {
    const row: Row = { ratio };
    let any = false;
    for (const t of targets) {
      const r = rows.find((q) => q.backend === t);
      const v = r ? value(r) : undefined;
      if (v === undefined || v === '' || (typeof v === 'number' && !Number.isFinite(v))) continue;
      row[t] = typeof v === 'number' ? fmt(v) : v;
      any = true;
    }
    if (any) out.push(row);
  };
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const steps = results.steps?.rows ?? [];
  for (const model of ['MLP', 'conv net']) {
    const rows = steps.filter((r) => r.model === model && r.gradients === 'forgetless');
    const batch = rows[0]?.batch;
    line(`${model} step: tfjs stock time / forgetless time${model === 'conv net' ? ' (batch 1 on cpu, 32 elsewhere)' : ` (batch ${batch})`}`, rows, (r) => r.speedup_vs_stock, x);
  }
  const imp = results.importances?.rows ?? [];
  for (const model of ['mlp', 'conv']) {
    for (const method of ['FIS empirical', 'MAS softmax']) {
      const rows = imp.filter((r) => String(r.model).toLowerCase().includes(model) && r.method === method && r.path === 'fast');
      line(`${model === 'mlp' ? 'MLP' : 'conv net'} ${method}: per-example loop time / fast time`, rows, (r) => num(r.speedupVsLoop), x);
    }
  }
  const ewc = (results.ewc?.rows ?? []).filter((r) => String(r.workload).includes('+ online EWC penalty'));
  line('EWC penalty step over the plain step (MLP, SGD)', ewc, (r) => num(r.overhead_pct), pct);
  const wva = results.wva?.rows ?? [];
  for (const optimizer of ['sgd', 'adam']) {
    for (const mode of ['gradients', 'steps']) {
      const rows = wva.filter((r) => r.optimizer === optimizer && r.variant === `wva ${mode} (plugin)`);
      line(`WVA ${mode} mode over the plain step (MLP, ${optimizer === 'sgd' ? 'SGD' : 'Adam'})`, rows, (r) => num(r.overhead_pct), pct);
    }
  }
  const si = results['sig-si']?.rows ?? [];
  for (const optimizer of ['sgd', 'adam']) {
    const rows = si.filter((r) => r.method === `${optimizer}: step + SI tracking`);
    line(`SI tracking over the plain step (MLP, ${optimizer === 'sgd' ? 'SGD' : 'Adam'})`, rows, (r) => num(r.overhead_pct), pct);
  }
  const mn = results.mobilenet?.rows ?? [];
  const mnStep = mn.filter((r) => r.measure === 'training step' && String(r.implementation).startsWith('forgetless'));
  const mnBatch = mnStep[0]?.examples;
  const stockOf = (r: Row) => mn.find((q) => q.backend === r.backend && q.measure === 'training step' && String(q.implementation).includes("tfjs's own gradients"));
  line(
    `MobileNetV2 step (imported): tfjs-layers stock time / forgetless time (batch ${mnBatch})`,
    mnStep,
    (r) => {
      const s = stockOf(r);
      if (!s) return undefined;
      return typeof s.median_ms === 'number' && typeof r.median_ms === 'number' ? s.median_ms / r.median_ms : String(s.status).startsWith('fails') ? 'stock fails' : undefined;
    },
    x,
  );
  const mnFast = mn.filter((r) => r.measure === 'FIS empirical' && String(r.implementation).includes("'fast'"));
  const loopOf = (r: Row) => mn.find((q) => q.backend === r.backend && q.measure === 'FIS empirical' && String(q.implementation).includes("'loop'"));
  line(
    'MobileNetV2 FIS empirical: per-example loop time / fast time',
    mnFast,
    (r) => {
      const l = loopOf(r);
      return typeof l?.median_ms === 'number' && typeof r.median_ms === 'number' ? l.median_ms / r.median_ms : undefined;
    },
    x,
  );
  for (const r of results.peer?.rows ?? []) {
    const rows = targets.map((t) => ({ backend: t, v: r[`${t}_ratio`] ?? '' }) as Row);
    line(`forgetless / torch: ${String(r.comparison)} [${r.shape}]`, rows, (q) => num(q.v), x);
  }
  line(`forgetless / torch: MobileNetV2 step [batch ${mnBatch}]`, mnStep, (r) => num(r.vs_torch), x);
  line(`forgetless / torch: MobileNetV2 step, CPU time [batch ${mnBatch}]`, mnStep, (r) => num(r.vs_torch_cpu), x);
  line('forgetless / torch: MobileNetV2 FIS per example: fast path / functorch vmap', mnFast, (r) => num(r.vs_torch), x);
  return out;
}
