// Training steps of real pretrained tfjs models, as they ship in npm packages (scripts/fetch-real-models.sh: nsfwjs's
// MobileNetV2 224² and InceptionV3 299², Keras conversions with uint8 weights), loaded with forgetless and trained whole
// (every layer, SGD, batch norms in training mode) on wasm, each step against a 1024³ matMul timed in the same rounds:
// the step's GFLOP/s (2 per multiply-add of its Conv2D, DepthwiseConv2D and Dense layers, forward, filter gradients and
// every input gradient but the first layer's, counted on the same model loaded by stock tfjs-layers) as a percentage of
// the matMul's. A non-finite loss or a tensor left behind by a step throws. Build first
// (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/real-model-steps.mjs DIR/mobilenet_v2/model.json:4,8 DIR/inception_v3/model.json:2
//     (model.json:batches; ROUNDS timed steps, default 7, after WARM, default 2; THREADS=2: the threaded build)
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { load, matmulCeiling, stats, stepContext, timedStep } from './ab-lib.mjs';
import { stepGflop } from './keras-nets.mjs';

const { kernelThreadsStatus, useBackend } = await import('@forgetless/core');
const { layersModelFiles, loadLayersModel } = await import('@forgetless/core/node');
const args = process.argv.slice(2);
if (args.length === 0) throw new Error('usage: real-model-steps.mjs <model.json>[:batch,batch…] …');
const rounds = Number(process.env.ROUNDS ?? 7);
const warm = Number(process.env.WARM ?? 2);
const threads = Number(process.env.THREADS ?? 1);
await useBackend('wasm', threads > 1 ? { threads } : {});
console.log(`load average at start ${load()}, ${new Date().toISOString()}; wasm, ${threads} thread(s), kernel threads ${JSON.stringify(kernelThreadsStatus())}`);
const ceiling = matmulCeiling();

for (const arg of args) {
  const [path, list] = arg.split(':');
  const batches = (list ?? '2').split(',').map(Number);
  const stock = await tfl.loadLayersModel(layersModelFiles(path));
  const perExample = stepGflop(stock, 1);
  stock.dispose();
  const { model } = await loadLayersModel(path);
  const shape = model.inputShape;
  if (shape.some((d) => d === null)) throw new Error(`${path}: input ${JSON.stringify(shape)} has dimensions of any size`);
  const name = path.split('/').at(-2);
  for (const n of batches) {
    const x = tf.randomUniform([n, ...shape], 0, 1, 'float32', 1);
    const y = tf.tensor1d(
      Array.from({ length: n }, (_, i) => i % model.numClasses),
      'int32',
    );
    const ctx = await stepContext(model, tf.train.sgd(1e-4));
    const what = `${name} batch ${n}`;
    for (let i = 0; i < warm; i++) {
      await timedStep(what, ctx, x, y);
      ceiling();
    }
    const ts = [];
    const fs = [];
    for (let r = 0; r < rounds; r++) {
      // the matMul before the step in odd rounds, after it in even ones
      if (r % 2) fs.push(ceiling());
      ts.push(await timedStep(what, ctx, x, y));
      if (!(r % 2)) fs.push(ceiling());
    }
    const [t, f] = [stats(ts), stats(fs)];
    const gflop = perExample * n;
    const gfs = gflop / (t.med / 1e3);
    console.log(
      `${what} (${shape.join('×')}): ${gflop.toFixed(2)} GFLOP a step | step ${t.med.toFixed(1)} (${t.min.toFixed(1)}–${t.max.toFixed(1)}) ms, ` +
        `${gfs.toFixed(1)} GFLOP/s | matMul ${f.med.toFixed(1)} (${f.min.toFixed(1)}–${f.max.toFixed(1)}) GFLOP/s | ${((100 * gfs) / f.med).toFixed(1)} % of the matMul | load ${load()}`,
    );
    tf.dispose([x, y]);
  }
  model.dispose();
}
