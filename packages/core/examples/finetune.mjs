// Fine-tuning a pretrained tfjs-layers model on new classes without forgetting the old ones.
//
// Loads the model.json that pretrain.mjs wrote (a MobileNetV2-style net trained with stock
// tfjs-layers on Fashion-MNIST classes 0-4) into forgetless, measures it, consolidates it on old-task
// data (`consolidate`: each plugin computes the importance of the pretrained weights, a Fisher
// diagonal on 1000 old images, and anchors at them; no training step), then fine-tunes it on classes
// 5-9, every run from the same starting weights: plain Adam, EWC, stabilised EWC, WVA. One 10-way
// head throughout (class-incremental: nothing tells the model at test time which half an image comes
// from); the task-incremental accuracy (old images scored over classes 0-4 only, new ones over 5-9)
// is printed beside it.
//
// Batch norm: trainContinual runs the model in training mode, so every step normalises with the
// batch's statistics and moves the moving averages towards the new classes' statistics. Those are
// model state, not parameters: EWC and WVA do not protect them. So each run is also measured after
// re-estimating the statistics on old + new images (the 1000 old images the Fisher was computed on
// and 1000 new ones; forward passes only, no gradient step). Runs prefixed 'frozen/' instead freeze
// the batch-norm layers (GraphModel.setTrainable: γ, β and the statistics stay as pretrained, and
// the layers run in inference mode, as Keras runs non-trainable layers).
//
// Finally the chosen run is written back as model.json + shards (the original file's names, order
// and uint8 quantization), reloaded with stock tfjs-layers and compared with forgetless.
//
//   npx turbo run build
//   node packages/core/examples/pretrain.mjs      # → examples/pretrained-fashion04/
//   node packages/core/examples/finetune.mjs      # → examples/finetuned-fashion09/
//
// Options: --model DIR, --out DIR, --backend wasm|cpu, --epochs N, --batch N, --lr η, --fisher N
// (old examples), --runs 'plain,ewc:30,sewc:1000,wva:1000,frozen/ewc:3000,...' (method plain, ewc,
// sewc (stabilised EWC) or wva, ':λ'; 'frozen/': batch-norm layers frozen while training),
// --save best|<run spec> (best: the highest 10-class accuracy of any non-plain run).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { consolidate, countParams, evaluate, trainContinual, useBackend } from '@forgetless/core';
import { layersModelFiles, loadLayersModel, saveLayersModel } from '@forgetless/core/node';
import { wvaPlugin } from '@forgetless/optimizers';
import { ewc, stabilizedEwc } from '@forgetless/regularizers';
import { NEW_CLASSES, OLD_CLASSES, fashionRgb } from './fashion-rgb.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const MODEL_DIR = opt('model', join(here, 'pretrained-fashion04'));
const OUT_DIR = opt('out', join(here, 'finetuned-fashion09'));
const BACKEND = opt('backend', 'wasm');
const EPOCHS = Number(opt('epochs', 1));
const BATCH = Number(opt('batch', 64));
const LR = Number(opt('lr', 3e-3));
const FISHER_EXAMPLES = Number(opt('fisher', 1000));
const RUNS = opt('runs', 'plain,ewc:30,ewc:300,sewc:1000,wva:1000,frozen/ewc:1000,frozen/ewc:3000').split(',').filter(Boolean);
const SAVE = opt('save', 'best');

const now = () => performance.now();
const t0 = now();
await useBackend(BACKEND);

// ---------------------------------------------------------------------------------------------
// The pretrained model and the data
// ---------------------------------------------------------------------------------------------
const loaded = await loadLayersModel(MODEL_DIR); // a forgetless GraphModel holding the file's weights
const model = loaded.model;
const start = model.getWeights(); // parameters and batch-norm statistics, to restart every run from
const stored = loaded.entries[0]?.spec.quantization?.dtype ?? 'float32';
console.log(
  `loaded ${loaded.source}: ${model.layers.length} layers, ${countParams(model.params)} trainable parameters, ${Object.keys(model.state).length} state tensors, weights stored as ${stored}`,
);

const data = await fashionRgb();
const oldTest = data.test(OLD_CLASSES);
const newTest = data.test(NEW_CLASSES);
const newTask = { name: 'fashion-5-9', train: data.train(NEW_CLASSES), test: newTest };
// what the pretrained model already knows: its training images (the importances use the first 1000)
const oldSample = data.train(OLD_CLASSES);
const oldTask = { name: 'fashion-0-4 (pretrained)', train: oldSample, test: oldTest };

/** Class-incremental (10-way argmax) and task-incremental (argmax within each half) accuracies. */
async function measure() {
  const acc = async (src, classes) => (await evaluate(model, src, classes ? { classes } : {})).accuracy;
  const o = await acc(oldTest);
  const n = await acc(newTest);
  return {
    old: o,
    new: n,
    all: (o * oldTest.size + n * newTest.size) / (oldTest.size + newTest.size),
    oldTI: await acc(oldTest, OLD_CLASSES),
    newTI: await acc(newTest, NEW_CLASSES),
  };
}

const before = await measure();
console.log(`pretrained: old (0-4) ${before.old.toFixed(3)}, new (5-9) ${before.new.toFixed(3)}; task-incremental old ${before.oldTI.toFixed(3)}, new ${before.newTI.toFixed(3)}`);

/**
 * Re-estimates every batch norm's moving statistics on old + new images: training-mode forward
 * passes (the layers' own momentum-0.9 update), no gradient. 40 batches of 32 + 32.
 */
function recalibrateBatchNorm(steps = 40) {
  const take = (src, seed) => [...src.batches(32, { limit: 1000, shuffle: true, seed })];
  const olds = take(oldSample, 3);
  const news = take(newTask.train, 4);
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => {
      model.logits(tf.concat([olds[i % olds.length].x, news[i % news.length].x]), { training: true });
    });
  }
  tf.dispose([...olds, ...news].flatMap((b) => [b.x, b.y]));
}

/** The batch-norm layers: runs prefixed 'frozen/' freeze them (γ, β and the statistics stay as pretrained). */
const batchNorms = model.layers.filter((l) => l.kind === 'batchNorm').map((l) => l.name);

// ---------------------------------------------------------------------------------------------
// The runs, each from the pretrained weights, same seed, same data order
// ---------------------------------------------------------------------------------------------
// The Fisher diagonal (empirical) on 1000 images, for the old task (by consolidate) and again after
// the fine-tuning task (by trainContinual, so the model would be ready for a next task).
const importance = { method: 'fisher', limit: FISHER_EXAMPLES };
const METHODS = {
  plain: { name: 'plain Adam', plugins: () => [] },
  ewc: { name: 'EWC', plugins: (lambda) => [ewc({ lambda, importance })] },
  sewc: { name: 'stabilised EWC', plugins: (lambda) => [stabilizedEwc({ lambda, learningRate: LR, importance })] },
  wva: { name: 'WVA', plugins: (lambda) => [wvaPlugin({ lambda, importance })] }, // Adam: steps scaled by 1/(1 + λI)
};

function parseRun(spec) {
  const m = /^(frozen\/)?(plain|ewc|sewc|wva)(?::([0-9.e+]+))?$/.exec(spec);
  if (!m) throw new Error(`--runs: cannot read '${spec}' (e.g. plain, ewc:100, frozen/ewc:100)`);
  const [, frozen, method, l] = m;
  const lambda = l === undefined ? undefined : Number(l);
  if (method !== 'plain' && !(lambda >= 0)) throw new Error(`--runs: '${spec}' needs λ (e.g. ${method}:100)`);
  return { spec, frozen: !!frozen, method: METHODS[method].name, lambda: lambda ?? '', plugins: () => METHODS[method].plugins(lambda) };
}

let fisherStats;
/** Mean and max of an importance map, for the log. */
function importanceStats(map, ms) {
  return tf.tidy(() => {
    const flat = tf.concat(Object.values(map).map((t) => tf.reshape(t, [-1])));
    return { mean: tf.mean(flat).dataSync()[0], max: tf.max(flat).dataSync()[0], seconds: ms / 1000 };
  });
}
const fmt = (r) => `old ${r.old.toFixed(3)}  new ${r.new.toFixed(3)}  all ${r.all.toFixed(3)}  | task-incr. old ${r.oldTI.toFixed(3)} new ${r.newTI.toFixed(3)}`;
const rows = [];
for (const run of RUNS.map(parseRun)) {
  model.setWeights(start);
  // a frozen layer's weights move to model.state and it runs in inference mode, as in Keras
  if (run.frozen) model.setTrainable(batchNorms, false);
  const plugins = run.plugins();
  // importances of the pretrained weights on old data, anchors at the pretrained weights: no step taken
  const oldMs = plugins.length ? await consolidate(model, oldTask, plugins, { learningRate: LR }) : 0;
  if (!fisherStats && plugins[0]?.tracker?.importances) fisherStats = importanceStats(plugins[0].tracker.importances, oldMs);
  const optimizer = tf.train.adam(LR);
  const result = await trainContinual(model, [newTask], { optimizer, plugins, epochs: EPOCHS, batchSize: BATCH, learningRate: LR, seed: 1 });
  const { trainMs, consolidateMs } = result.timings[0];
  const seconds = trainMs / 1000;
  for (const p of plugins) p.dispose?.();
  optimizer.dispose();
  if (run.frozen) model.setTrainable(batchNorms, true);
  const label = `${run.method}${run.lambda === '' ? '' : ` λ=${run.lambda}`}${run.frozen ? ', BN frozen' : ''}`;
  const trained = await measure();
  rows.push({
    ...run,
    bn: run.frozen ? 'frozen layers (γ, β, statistics)' : 'moved by training',
    after: trained,
    seconds,
    oldSeconds: oldMs / 1000,
    consolidateSeconds: consolidateMs / 1000,
    weights: model.getWeights(),
  });
  const extra = oldMs > 0 ? ` (+ ${(oldMs / 1000).toFixed(1)} s consolidating on old data, ${(consolidateMs / 1000).toFixed(1)} s after)` : '';
  console.log(`${label.padEnd(28)} ${fmt(trained)}  | ${seconds.toFixed(1)} s${extra}`);
  if (run.frozen) continue; // trained around the pretrained statistics: re-estimating them would undo that
  const t = now();
  recalibrateBatchNorm();
  const recal = await measure();
  rows.push({ ...run, bn: 're-estimated on old + new', after: recal, seconds: (now() - t) / 1000, weights: model.getWeights() });
  console.log(`${'  + BN stats re-estimated'.padEnd(28)} ${fmt(recal)}`);
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------
const f = (x) => x.toFixed(3);
const steps = Math.ceil(newTask.train.size / BATCH) * EPOCHS;
console.log(
  `\nFine-tuning on classes 5-9 (${newTask.train.size} images, ${EPOCHS} epoch${EPOCHS > 1 ? 's' : ''} = ${steps} steps of ${BATCH}, Adam ${LR}), backend ${tf.getBackend()}, ` +
    `Fisher on ${Math.min(FISHER_EXAMPLES, oldSample.size)} old images${fisherStats ? ` (mean ${fisherStats.mean.toExponential(2)}, max ${fisherStats.max.toExponential(2)})` : ''}`,
);
console.log('| method | λ | batch norm | old 0-4 | new 5-9 | all 10 | old 0-4, task-incr. | new 5-9, task-incr. | time |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
console.log(`| pretrained (before) | | | ${f(before.old)} | ${f(before.new)} | ${f(before.all)} | ${f(before.oldTI)} | ${f(before.newTI)} | |`);
for (const r of rows) {
  const time = r.bn.startsWith('re-estimated')
    ? `+${r.seconds.toFixed(1)} s`
    : `${r.seconds.toFixed(1)} s${r.oldSeconds > 0 ? ` (+${r.oldSeconds.toFixed(1)} s + ${r.consolidateSeconds.toFixed(1)} s consolidating)` : ''}`;
  console.log(`| ${r.method} | ${r.lambda} | ${r.bn} | ${f(r.after.old)} | ${f(r.after.new)} | ${f(r.after.all)} | ${f(r.after.oldTI)} | ${f(r.after.newTI)} | ${time} |`);
}

// ---------------------------------------------------------------------------------------------
// Write the chosen run back as a tfjs-layers model and check it with stock tfjs-layers
// ---------------------------------------------------------------------------------------------
const candidates = rows.filter((r) => (SAVE === 'best' ? r.method !== 'plain Adam' : r.spec === SAVE));
const chosen = candidates.length ? candidates.reduce((a, b) => (b.after.all > a.after.all ? b : a)) : rows[rows.length - 1];
model.setWeights(chosen.weights);
// the original model.json; same weight names and order; changed weights requantized to uint8 as stored
const saved = await saveLayersModel(OUT_DIR, loaded, { overwrite: true });
const requantized = saved.report.filter((r) => r.action !== 'unchanged').length;
const stock = await tfl.loadLayersModel(layersModelFiles(OUT_DIR)); // stock tfjs-layers
const reloaded = await loadLayersModel(OUT_DIR); // forgetless, from the same files
let maxDiff = 0;
let agree = 0;
let stockCorrect = 0;
let n = 0;
for (const { x, y } of data.test([...OLD_CLASSES, ...NEW_CLASSES]).batches(500)) {
  const [d, a, c] = tf.tidy(() => {
    const ps = stock.predict(x); // softmax probabilities
    const pf = reloaded.predict(x); // forgetless: softmax of its logits, as the Keras model ends
    const cs = tf.argMax(ps, -1);
    return [tf.max(tf.abs(tf.sub(ps, pf))), tf.sum(tf.cast(tf.equal(cs, tf.argMax(pf, -1)), 'int32')), tf.sum(tf.cast(tf.equal(cs, y), 'int32'))];
  });
  maxDiff = Math.max(maxDiff, d.dataSync()[0]);
  agree += a.dataSync()[0];
  stockCorrect += c.dataSync()[0];
  n += y.shape[0];
  tf.dispose([x, y, d, a, c]);
}
const label = `${chosen.method} λ=${chosen.lambda}, BN ${chosen.bn}`;
console.log(`\nsaved '${label}' to ${OUT_DIR} (${saved.files.map((p) => p.split('/').pop()).join(', ')}; ${requantized}/${saved.report.length} weights requantized to ${stored})`);
console.log(
  `stock tf.loadLayersModel on the saved files: all-10 test accuracy ${f(stockCorrect / n)} (float32 in memory: ${f(chosen.after.all)}); ` +
    `against forgetless on the same files: max |Δp| ${maxDiff.toExponential(2)}, same argmax on ${agree}/${n}`,
);
console.log(`total ${((now() - t0) / 1000).toFixed(1)} s`);
reloaded.dispose();
stock.dispose();
loaded.dispose();
