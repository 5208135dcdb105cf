/**
 * replay: experience replay as a `trainContinual` plugin. Each drawn batch of B new examples gets
 * round(ratio · B) examples drawn uniformly from the memory appended (ratio 1: B new + B stored), so
 * the step minimises the mean cross-entropy over both; then the new examples are offered to the
 * memory (reservoir, class-balanced) or, for herding, the task's examples are chosen at its end.
 * A replayed example keeps the output mask of the task it came from (`Task.classes`, task-incremental),
 * so it combines with every scenario and with every regulariser (list it first: the plugins after it
 * see the mixed batch, e.g. LwF's soft targets). Its memory and generator are part of `getState`,
 * so a resumed run replays exactly what an uninterrupted one would.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Batch, LayerCapture, ParamMap, Plugin, Task, TrainContext } from '@forgetless/core';
import { type ReplayMemoryMeta, type ReplayMemoryOptions, ReplayMemory } from './memory.js';

export interface ReplayOptions extends ReplayMemoryOptions {
  /** Stored examples replayed per new example in each batch (default 1). */
  ratio?: number;
  /** Herding: examples of each task considered (the first ones; default 5000). */
  candidates?: number;
}

export interface ReplayPlugin extends Plugin {
  readonly memory: ReplayMemory;
  transformBatch(batch: Batch, ctx: TrainContext): Batch;
  getState(): { tensors: ParamMap; meta: Record<string, unknown> };
  setState(state: { tensors: ParamMap; meta: Record<string, unknown> }): void;
}

export function replay(options: ReplayOptions): ReplayPlugin {
  const { ratio = 1, candidates = 5000, ...memoryOptions } = options ?? ({} as ReplayOptions);
  if (!(Number.isFinite(ratio) && ratio > 0)) throw new Error(`replay: ratio must be a positive number, got ${ratio}`);
  if (!Number.isInteger(candidates) || candidates < 1) throw new Error(`replay: candidates must be a positive integer, got ${candidates}`);
  const memory = new ReplayMemory(memoryOptions);

  const plugin: ReplayPlugin = {
    name: 'replay',
    memory,
    transformBatch(batch, ctx) {
      const b = batch.y.shape[0];
      const drawn = memory.size > 0 ? memory.sample(Math.round(ratio * b)) : undefined;
      if (memory.selection !== 'herding') memory.add(batch.x.dataSync() as Float32Array, batch.y.dataSync() as Int32Array, ctx.taskIndex);
      const masked = ctx.tasks.some((t) => t.classes);
      if (!drawn || drawn.y.length === 0) {
        if (!masked || batch.logitMask) return batch;
        return { ...batch, logitMask: maskRows(ctx.tasks, new Int32Array(b).fill(ctx.taskIndex), ctx.model.numClasses) };
      }
      const k = drawn.y.length;
      const shape = batch.x.shape.slice(1);
      return tf.tidy(() => {
        const x = tf.concat([batch.x, tf.tensor(drawn.x, [k, ...shape], 'float32')]);
        const y = tf.concat([batch.y, tf.tensor1d(drawn.y, 'int32')]) as tf.Tensor1D;
        if (!masked) return { x, y };
        const own = batch.logitMask ?? maskRows(ctx.tasks, new Int32Array(b).fill(ctx.taskIndex), ctx.model.numClasses);
        const logitMask = tf.concat([own, maskRows(ctx.tasks, drawn.task, ctx.model.numClasses)]) as tf.Tensor2D;
        return { x, y, logitMask };
      });
    },
    async afterTask(ctx) {
      if (memory.selection === 'herding') await herdTask(memory, ctx, candidates);
    },
    getState() {
      const { examples, meta } = memory.getState();
      const n = examples.y.length;
      const tensors: ParamMap =
        n === 0
          ? {}
          : {
              x: tf.tensor2d(examples.x, [n, meta.exampleSize], 'float32'),
              y: tf.tensor1d(Float32Array.from(examples.y), 'float32'),
              task: tf.tensor1d(Float32Array.from(examples.task), 'float32'),
            };
      return { tensors, meta: { ...meta, ratio } as unknown as Record<string, unknown> };
    },
    setState(state) {
      const meta = state.meta as unknown as ReplayMemoryMeta & { ratio?: number };
      if (meta.ratio !== undefined && meta.ratio !== ratio) throw new Error(`replay: the saved ratio is ${meta.ratio}, this plugin's is ${ratio}`);
      const { x, y, task } = state.tensors;
      const examples =
        x && y && task
          ? { x: Float32Array.from(x.dataSync()), y: Int32Array.from(y.dataSync()), task: Int32Array.from(task.dataSync()) }
          : { x: new Float32Array(0), y: new Int32Array(0), task: new Int32Array(0) };
      memory.setState({ examples, meta });
    },
  };
  return plugin;
}

/** One row per example: 0 on the classes of its task (every class when the task has no mask), −1e9 elsewhere. */
function maskRows(tasks: readonly Task[], taskOf: Int32Array, width: number): tf.Tensor2D {
  const m = new Float32Array(taskOf.length * width);
  taskOf.forEach((t, r) => {
    const classes = tasks[t]?.classes;
    if (!classes) return;
    m.fill(-1e9, r * width, (r + 1) * width);
    for (const c of classes) m[r * width + c] = 0;
  });
  return tf.tensor2d(m, [taskOf.length, width]);
}

/** Herding on the task's training examples, with the input of the model's last parametric layer as features. */
async function herdTask(memory: ReplayMemory, ctx: TrainContext, limit: number): Promise<void> {
  const head = ctx.model.parametricLayers[ctx.model.parametricLayers.length - 1];
  if (!head) throw new Error('replay: herding needs a model with a parametric layer');
  const xs: Float32Array[] = [];
  const ys: Int32Array[] = [];
  const fs: Float32Array[] = [];
  for (const batch of ctx.task.train.batches(500, { limit })) {
    const capture: Record<string, LayerCapture> = {};
    const feats = tf.tidy(() => {
      ctx.model.logits(batch.x, { capture });
      const input = (capture[head.name] as LayerCapture).input;
      return tf.keep(tf.reshape(input, [input.shape[0] as number, -1]));
    });
    xs.push((await batch.x.data()) as Float32Array);
    ys.push((await batch.y.data()) as Int32Array);
    fs.push((await feats.data()) as Float32Array);
    tf.dispose([feats, batch.x, batch.y]);
  }
  const cat = <T extends Float32Array | Int32Array>(parts: T[], make: (n: number) => T): T => {
    const out = make(parts.reduce((a, p) => a + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  };
  memory.herd(
    cat(xs, (n) => new Float32Array(n)),
    cat(ys, (n) => new Int32Array(n)),
    cat(fs, (n) => new Float32Array(n)),
    ctx.taskIndex,
  );
}
