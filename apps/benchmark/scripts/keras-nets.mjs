// Keras-style conv nets built with stock tfjs-layers for the same-process A/B scripts of this folder
// (96×96×3 inputs, 10 classes): a ResNet-18-style net and InceptionV3-style `conv2d_bn` blocks (see
// bn-relu-ab.mjs), their step's GFLOP, and their artifacts as `model.save` writes them.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

const apply = (l, x) => l.apply(x);
let seed = 1;
const init = () => ({ kernelInitializer: tfl.initializers.heNormal({ seed: seed++ }) });
const bn = (o = {}) => tfl.layers.batchNormalization({ epsilon: 1e-3, momentum: 0.99, ...o });
const relu = () => tfl.layers.activation({ activation: 'relu' });

export function resnet() {
  const conv = (f, k, s = 1) => tfl.layers.conv2d({ filters: f, kernelSize: k, strides: s, padding: 'same', useBias: false, ...init() });
  const input = tfl.input({ shape: [96, 96, 3] });
  let h = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), apply(relu(), apply(bn(), apply(conv(32, 7, 2), input))));
  let c = 32;
  for (const [f, s] of [
    [32, 1],
    [32, 1],
    [64, 2],
    [64, 1],
    [128, 2],
    [128, 1],
    [256, 2],
    [256, 1],
  ]) {
    const r = apply(bn(), apply(conv(f, 3), apply(relu(), apply(bn(), apply(conv(f, 3, s), h)))));
    const skip = s !== 1 || f !== c ? apply(bn(), apply(conv(f, 1, s), h)) : h;
    h = apply(relu(), apply(tfl.layers.add(), [r, skip]));
    c = f;
  }
  const out = apply(tfl.layers.dense({ units: 10, activation: 'softmax', ...init() }), apply(tfl.layers.globalAveragePooling2d({}), h));
  return tfl.model({ inputs: input, outputs: out });
}

export function inception() {
  const convBn = (x, f, kh, kw = kh, s = 1, padding = 'same') =>
    apply(relu(), apply(bn({ scale: false }), apply(tfl.layers.conv2d({ filters: f, kernelSize: [kh, kw], strides: s, padding, useBias: false, ...init() }), x)));
  const input = tfl.input({ shape: [96, 96, 3] });
  let h = convBn(input, 16, 3, 3, 2, 'valid');
  h = convBn(h, 16, 3, 3, 1, 'valid');
  h = convBn(h, 32, 3);
  h = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2 }), h);
  h = convBn(h, 40, 1);
  h = convBn(h, 96, 3, 3, 1, 'valid');
  h = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2 }), h);
  for (const pool of [16, 32, 32]) {
    const b1 = convBn(h, 32, 1);
    const b5 = convBn(convBn(h, 24, 1), 32, 5);
    const b3 = convBn(convBn(convBn(h, 32, 1), 48, 3), 48, 3);
    const bp = convBn(apply(tfl.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }), h), pool, 1);
    h = apply(tfl.layers.concatenate({}), [b1, b5, b3, bp]);
  }
  const out = apply(tfl.layers.dense({ units: 10, activation: 'softmax', ...init() }), apply(tfl.layers.globalAveragePooling2d({}), h));
  return tfl.model({ inputs: input, outputs: out });
}

/** Multiply-adds ×2 of one training step of a tfjs-layers model (forward, ∂W, and ∂x but for a layer reading the input), batch n. */
export function stepGflop(keras, n) {
  let f = 0;
  for (const l of keras.layers) {
    const cls = l.getClassName();
    if (cls !== 'Conv2D' && cls !== 'Dense' && cls !== 'DepthwiseConv2D') continue;
    const out = l.outputShape;
    const k = l.getWeights()[0].shape;
    const macs = n * out.slice(1, -1).reduce((a, b) => a * b, 1) * (cls === 'DepthwiseConv2D' ? k[0] * k[1] * k[2] * k[3] : k.reduce((a, b) => a * b, 1));
    const readsInput = l.inboundNodes[0].inboundLayers.some((p) => p.getClassName() === 'InputLayer');
    f += 2 * macs * (readsInput ? 2 : 3);
  }
  return f / 1e9;
}

export async function artifactsOf(keras) {
  let art;
  await keras.save(
    tf.io.withSaveHandler(async (a) => {
      art = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return art;
}
