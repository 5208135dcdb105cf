/**
 * EWC penalty overhead: one SGD step of paper 2's MLP (784-300-150-10, leaky ReLU) at batch 100,
 * plain against the same step with the online EWC penalty Σ c ⊙ (θ − θ*)² and its analytic gradient
 * (`@forgetless/regularizers`, importances set to random positive maps), in one run on the current
 * backend; plus the penalty hook alone. Plain and EWC steps are timed in alternating short rounds,
 * so that load from other processes falls on both, and the overhead is the median over rounds of
 * the paired ratio (EWC median / plain median − 1); the ratio of the minima is given beside it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, Rng, type Task, type TrainContext, mlp, trainStep } from '@forgetless/core';
import { ewc } from '@forgetless/regularizers';
import { type Timing, timeIt } from '../harness.js';

export interface EwcRow extends Record<string, string | number> {
  workload: string;
  backend: string;
  batch: number;
  median_ms: number;
  min_ms: number;
  max_ms: number;
  /** Extra time over the plain step in percent: median over rounds of the paired ratio (empty for the plain row). */
  overhead_pct: number | string;
  /** The same from the minima (the least disturbed runs). */
  overhead_min_pct: number | string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median of the rounds' medians, min of their minima, max of their maxima. */
function combine(ts: Timing[]): Timing {
  return { median: median(ts.map((t) => t.median)), min: Math.min(...ts.map((t) => t.min)), max: Math.max(...ts.map((t) => t.max)), runs: ts.reduce((s, t) => s + t.runs, 0) };
}

export async function benchEwc(opts: { backend: string; quick: boolean }): Promise<{ rows: Array<Record<string, string | number>>; notes: string[] }> {
  const batch = 100;
  const rounds = opts.quick ? 1 : opts.backend === 'cpu' ? 5 : 11;
  const runs = opts.quick ? 3 : opts.backend === 'cpu' ? 3 : 7;
  const model = mlp([784, 300, 150, 10], { activation: { name: 'leakyRelu', alpha: 0.01 }, seed: 0 });
  const x = tf.randomUniform([batch, 784], 0, 1, 'float32', 1);
  const y = tf.tensor1d(
    Array.from({ length: batch }, (_, i) => i % 10),
    'int32',
  );
  const optimizer = tf.train.sgd(0.01);
  const task = { name: 'bench', train: undefined, test: undefined } as unknown as Task;
  const ctx: TrainContext = { model, optimizer, tasks: [task], taskIndex: 1, task, step: 0, taskStep: 0, epoch: 0, rng: new Rng(0) };
  // One consolidated task: random positive importances, anchors near the current parameters.
  const plugin = ewc({ lambda: 41, importance: { method: 'fisher' } });
  const state: ParamMap = {};
  Object.entries(model.params).forEach(([n, v], i) => {
    state[`importance/${n}`] = tf.randomUniform(v.shape, 0.001, 1, 'float32', 10 + i);
    state[`anchor/${n}`] = tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.01, 'float32', 20 + i)));
  });
  plugin.setState({ tensors: state, meta: { taskCount: 1 } });
  tf.dispose(Object.values(state));

  // The work EWC adds to a step: the penalty hook, and (as trainStep does) adding its gradient to the task gradient.
  const taskGrads: ParamMap = {};
  for (const [n, v] of Object.entries(model.params)) taskGrads[n] = tf.randomNormal(v.shape, 0, 0.01, 'float32', 30);
  const extraWork = (addToTaskGradient: boolean): tf.Tensor =>
    tf.tidy(() => {
      const p = plugin.penalty(ctx);
      if (!p) throw new Error('benchEwc: the plugin has no penalty');
      if (addToTaskGradient) for (const [n, g] of Object.entries(p.grads)) tf.add(taskGrads[n] as tf.Tensor, g);
      return p.value;
    });
  const plainT: Timing[] = [];
  const ewcT: Timing[] = [];
  const hookT: Timing[] = [];
  const extraT: Timing[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      plainT.push(await timeIt(() => trainStep({ x, y }, ctx, []), { runs, warmup: 2 }));
      ewcT.push(await timeIt(() => trainStep({ x, y }, ctx, [plugin]), { runs, warmup: 2 }));
      hookT.push(await timeIt(() => extraWork(false), { runs, warmup: 2 }));
      extraT.push(await timeIt(() => extraWork(true), { runs, warmup: 2 }));
      process.stderr.write(`  round ${r + 1}/${rounds}: plain ${plainT.at(-1)?.median.toFixed(2)} ms, EWC ${ewcT.at(-1)?.median.toFixed(2)} ms\n`);
    }
  } finally {
    tf.dispose(Object.values(taskGrads));
    plugin.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
    model.dispose();
  }
  const plain = combine(plainT);
  const withEwc = combine(ewcT);
  const hook = combine(hookT);
  const extra = combine(extraT);
  const pct = (x: number) => +(100 * x).toFixed(1);
  const paired = (ts: Timing[]) => pct(median(ts.map((t, r) => t.median / (plainT[r] as Timing).median)) - 1);
  const row = (workload: string, t: Timing, overhead: number | string, overheadMin: number | string): EwcRow => ({
    workload,
    backend: opts.backend,
    batch,
    median_ms: +t.median.toFixed(3),
    min_ms: +t.min.toFixed(3),
    max_ms: +t.max.toFixed(3),
    overhead_pct: overhead,
    overhead_min_pct: overheadMin,
  });
  const rows = [
    row('MLP 784-300-150-10 SGD step, plain', plain, '', ''),
    row('same step + online EWC penalty (analytic gradient)', withEwc, paired(ewcT), pct(withEwc.min / plain.min - 1)),
    row('EWC penalty hook alone (value + gradient)', hook, +(paired(hookT) + 100).toFixed(1), pct(hook.min / plain.min)),
    row('hook + adding its gradient to the task gradient (the extra work of a step)', extra, +(paired(extraT) + 100).toFixed(1), pct(extra.min / plain.min)),
  ];
  const notes = [
    `EWC step overhead on ${opts.backend}: ${paired(ewcT)} % (median of ${rounds} paired rounds × ${runs} runs; ${pct(withEwc.min / plain.min - 1)} % from the minima; target ≤ 25 % on wasm). ` +
      `The extra work alone (penalty hook + gradient addition, short enough to be timed steadily on a loaded machine) is ${(paired(extraT) + 100).toFixed(1)} % of a plain step. ` +
      'Per parameter the hook does one subtraction, two multiplications, an addition and a sum; the loop then adds its gradient to the task gradient. The last two rows give percentages of the plain step, not overheads.',
  ];
  return { rows, notes };
}
