/**
 * WVA workloads: the step time of paper 2's MLP (784-300-150-10 leaky ReLU, batch 100) with WVA
 * against the same step with the bare optimizer, for SGD and Adam in both modes, through core's
 * trainStep with the transforms as plugins and through the standalone `wva` wrapper; and the memory
 * WVA holds and peaks at, against an EWC-style penalty on the same model (a minimal local EWC:
 * c = λ·I, penalty Σ c (θ − θ*)², gradient 2c(θ − θ*); the regularizers package is not a dependency).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Batch, type ParamMap, type Plugin, type Sequential, type Task, type TrainContext, Rng, cloneParams, disposeParams, mlp, trainStep } from '@forgetless/core';
import { attenuateGradients, attenuateSteps, attenuationFactors, wva } from '@forgetless/optimizers';
import { timeIt } from '../harness.js';

/** Online EWC's penalty with its state (I and the anchor θ*), minimal and local to this benchmark. */
function ewcPenalty(importances: ParamMap, anchor: ParamMap, lambda: number): Plugin {
  return {
    name: 'ewc (benchmark-local)',
    penalty: (ctx) => {
      const grads: ParamMap = {};
      const terms: tf.Scalar[] = [];
      for (const [n, v] of Object.entries(ctx.model.params)) {
        const c = tf.mul(importances[n] as tf.Tensor, lambda);
        const diff = tf.sub(v, anchor[n] as tf.Tensor);
        grads[n] = tf.mul(tf.mul(c, diff), 2);
        terms.push(tf.sum(tf.mul(c, tf.square(diff))));
      }
      return { value: tf.addN(terms) as tf.Scalar, grads };
    },
  };
}

interface Config {
  optimizer: 'sgd' | 'adam';
  variant: string;
  ctx: TrainContext;
  plugins: Plugin[];
  /** Bytes this configuration keeps beside the model and the optimizer. */
  stateBytes: number;
  /** The work this configuration adds to a plain step, alone (timed in isolation: less noisy). */
  component?: () => tf.Tensor;
  dispose: () => void;
}

function bytesOf(map: ParamMap): number {
  return Object.values(map).reduce((s, t) => s + 4 * t.size, 0);
}

function context(model: Sequential, optimizer: tf.Optimizer): TrainContext {
  const task = { name: 'bench', classes: undefined } as unknown as Task;
  return { model, optimizer, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new Rng(0) };
}

export async function benchWva(opts: { backend: string; quick: boolean }): Promise<{ rows: Array<Record<string, string | number>>; notes: string[] }> {
  const rows: Array<Record<string, string | number>> = [];
  const notes: string[] = [];
  const batchSize = 100;
  const model = mlp([784, 300, 150, 10], { seed: 0, activation: { name: 'leakyRelu', alpha: 0.01 } });
  const x = tf.randomUniform([batchSize, 784], 0, 1, 'float32', 1);
  const y = tf.tensor1d(
    Array.from({ length: batchSize }, (_, i) => i % 10),
    'int32',
  );
  const batch: Batch = { x, y };
  const importances: ParamMap = {};
  let seed = 7;
  for (const [n, v] of Object.entries(model.params)) importances[n] = tf.randomUniform(v.shape, 0, 1, 'float32', seed++);
  const thetaBytes = bytesOf(model.params);
  const lambda = 1;
  const names = Object.keys(model.params);
  const lastName = names[names.length - 1] as string;
  const grads: ParamMap = {};
  for (const [n, v] of Object.entries(model.params)) grads[n] = tf.randomNormal(v.shape, 0, 1e-3, 'float32', seed++);
  const ctx0 = context(model, tf.train.sgd(0)); // only read for its model by the penalty
  // What each variant adds to a step, alone; each returns one small output tensor so that the timing
  // waits for the work (the harness reads and disposes it).
  const gradientsWork = (t: Plugin) => tf.tidy(() => (t.transformGradients as NonNullable<Plugin['transformGradients']>)(grads, ctx0)[lastName] as tf.Tensor);
  const stepsWork = (t: Plugin) =>
    tf.tidy(() => {
      // the loop's steps-mode work: copy θ, Δθ = θ − θ_before (after the optimizer), the transform, θ ← θ_before + Δθ′
      const before: ParamMap = {};
      for (const n of names) before[n] = tf.clone(model.params[n] as tf.Variable);
      const d: ParamMap = {};
      for (const n of names) d[n] = tf.sub(model.params[n] as tf.Variable, before[n] as tf.Tensor);
      const d2 = (t.transformStep as NonNullable<Plugin['transformStep']>)(d, ctx0);
      for (const n of names) if (d2[n] !== d[n]) (model.params[n] as tf.Variable).assign(tf.add(before[n] as tf.Tensor, d2[n] as tf.Tensor));
      return tf.clone(model.params[lastName] as tf.Variable);
    });
  const penaltyWork = (p: Plugin) =>
    tf.tidy(() => {
      const pen = (p.penalty as NonNullable<Plugin['penalty']>)(ctx0) as { value: tf.Scalar; grads: ParamMap };
      const out: ParamMap = {};
      for (const n of names) out[n] = tf.add(grads[n] as tf.Tensor, pen.grads[n] as tf.Tensor); // the loop adds it to the gradient
      return tf.add(pen.value, tf.sum(out[lastName] as tf.Tensor));
    });

  const configs: Config[] = [];
  for (const name of ['sgd', 'adam'] as const) {
    const make = () => (name === 'sgd' ? tf.train.sgd(0.01) : tf.train.adam(1e-3));
    const add = (variant: string, optimizer: tf.Optimizer, plugins: Plugin[], stateBytes: number, extra: () => void = () => {}, component?: () => tf.Tensor) =>
      configs.push({
        optimizer: name,
        variant,
        ctx: context(model, optimizer),
        plugins,
        stateBytes,
        dispose: () => (optimizer.dispose(), extra()),
        ...(component ? { component } : {}),
      });
    add('plain', make(), [], 0);
    add('plain again (A/A control: the noise floor)', make(), [], 0);
    for (const mode of ['gradients', 'steps'] as const) {
      const a = attenuationFactors(importances, { lambda, params: model.params });
      const t = mode === 'gradients' ? attenuateGradients(a) : attenuateSteps(a);
      add(`wva ${mode} (plugin)`, make(), [t], bytesOf(a), () => disposeParams(a), mode === 'gradients' ? () => gradientsWork(t) : () => stepsWork(t));
      const w = wva(make(), { importances, lambda, applyTo: mode, params: model.params });
      add(`wva ${mode} (wrapper)`, w, [], bytesOf(w.factors));
    }
    const I = cloneParams(importances);
    const anchor = cloneParams(model.params);
    const ewc = ewcPenalty(I, anchor, lambda);
    add(
      'ewc online (penalty)',
      make(),
      [ewc],
      bytesOf(I) + bytesOf(anchor),
      () => (disposeParams(I), disposeParams(anchor)),
      () => penaltyWork(ewc),
    );
  }

  try {
    // Peak bytes during one step (tf.profile: the largest total after any kernel), above the resting state.
    const peaks = new Map<Config, number>();
    for (const c of configs) {
      trainStep(batch, c.ctx, c.plugins).dispose(); // optimizer moments exist from here on
      const resting = tf.memory().numBytes;
      const prof = await tf.profile(() => trainStep(batch, c.ctx, c.plugins).dispose());
      peaks.set(c, prof.peakBytes - resting);
    }
    // Paired, interleaved rounds: in each round every configuration of an optimizer takes one step
    // (order rotated each round), so a variant and its plain step run within milliseconds of each
    // other; the overhead is the median over rounds of (variant − plain) / plain. Interference from
    // other processes is correlated in time and cancels in the pairs far better than in separate medians.
    const rounds = opts.quick ? 5 : opts.backend === 'cpu' ? 15 : 60;
    const samples = new Map<Config, number[]>(configs.map((c) => [c, []]));
    for (const c of configs) for (let w = 0; w < 2; w++) trainStep(batch, c.ctx, c.plugins).dispose();
    for (let r = 0; r < rounds; r++) {
      for (const group of [configs.filter((c) => c.optimizer === 'sgd'), configs.filter((c) => c.optimizer === 'adam')]) {
        for (let k = 0; k < group.length; k++) {
          const c = group[(k + r) % group.length] as Config;
          const t = await timeIt(() => trainStep(batch, c.ctx, c.plugins), { warmup: 0, runs: 1 });
          samples.get(c)?.push(t.median);
        }
      }
    }
    const componentMs = new Map<Config, number>();
    for (const c of configs) {
      if (!c.component) continue;
      const t = await timeIt(c.component, { warmup: 3, runs: opts.quick ? 3 : 9, repeat: opts.quick ? 5 : 20 });
      componentMs.set(c, t.median);
    }
    const stats = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      const mid = Math.floor(s.length / 2);
      return { median: s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2, min: s[0] as number, max: s[s.length - 1] as number };
    };
    for (const c of configs) {
      const xs = samples.get(c) as number[];
      const t = stats(xs);
      const plainXs = samples.get(configs.find((p) => p.optimizer === c.optimizer && p.variant === 'plain') as Config) as number[];
      const plain = stats(plainXs);
      const overhead = c.variant === 'plain' ? 0 : (100 * stats(xs.map((x, i) => x - (plainXs[i] as number))).median) / plain.median;
      const overheadMin = c.variant === 'plain' ? 0 : (100 * (t.min - plain.min)) / plain.min;
      const comp = componentMs.get(c);
      process.stderr.write(`  ${c.optimizer} ${c.variant}: ${t.median.toFixed(2)} ms (${overhead >= 0 ? '+' : ''}${overhead.toFixed(1)} %)\n`);
      rows.push({
        workload: 'MLP 784-300-150-10 step, batch 100',
        backend: opts.backend,
        optimizer: c.optimizer,
        variant: c.variant,
        median_ms: Number(t.median.toFixed(3)),
        min_ms: Number(t.min.toFixed(3)),
        max_ms: Number(t.max.toFixed(3)),
        overhead_pct: Number(overhead.toFixed(1)),
        overhead_of_min_pct: Number(overheadMin.toFixed(1)),
        added_work_ms: comp === undefined ? '' : Number(comp.toFixed(3)),
        added_work_pct: comp === undefined ? '' : Number(((100 * comp) / plain.median).toFixed(1)),
        state_bytes: c.stateBytes,
        step_peak_bytes: peaks.get(c) as number,
      });
    }
    notes.push(
      `θ = ${thetaBytes} bytes (${thetaBytes / 4} parameters). state_bytes: what the method keeps beside the model and optimizer (WVA: the factor a, one tensor per parameter; EWC online: I and θ*). ` +
        "In trainContinual the importanceTracker also keeps the running I and the last task's I for either method.",
      "step_peak_bytes: tf.profile's largest tf.memory().numBytes after any kernel during one step, minus the bytes at rest before it: it includes activations, gradients and, in steps mode, the copy of θ the loop (or the wrapper, inside applyGradients) makes for that step only.",
      "added_work: the variant's own work timed alone (the gradient scaling; the loop's copy of θ, Δθ, a ⊙ Δθ and re-assignment; the EWC penalty and its gradient added to g), as a share of the plain step: the overhead without the machine's noise. The wrapper does the same work inside applyGradients.",
      `Timings: ${rounds} paired rounds, one step of each configuration of an optimizer per round (order rotated); median/min/max over the rounds. overhead_pct: median over rounds of (step − plain step of the same round) / plain median; overhead_of_min_pct: (min − plain min) / plain min. The A/A control (a second plain optimizer) shows the noise floor of the run.`,
    );
  } finally {
    for (const c of configs) c.dispose();
    ctx0.optimizer.dispose();
    disposeParams(grads);
    disposeParams(importances);
    tf.dispose([x, y]);
    model.dispose();
  }
  return { rows, notes };
}
