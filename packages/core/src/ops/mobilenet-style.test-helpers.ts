import * as tf from '@tensorflow/tfjs-core';
import { activation, batchNorm, conv2d, dense, flatten } from '../layers/index.js';
import { DepthwiseConv2d } from '../layers/depthwise-conv2d.js';
import { Sequential } from '../model.js';
import { Rng } from '../rng.js';
import type { TrainContext } from '../train/plugin.js';
import { trainStep } from '../train/step.js';

/**
 * A MobileNet-style stack on 10×10×3: conv, batch norm + ReLU6, depthwise stride 2, batch norm + ReLU6,
 * 1×1, batch norm, dense (seed 3); the convs with biases unless `useBias` is false (as Keras's MobileNetV2).
 */
export function mobileNetStyleNet({ useBias = true }: { useBias?: boolean } = {}): Sequential {
  return new Sequential(
    [
      conv2d(8, 3, { padding: 'same', useBias }),
      batchNorm(),
      activation('relu6'),
      new DepthwiseConv2d({ kernelSize: 3, stride: 2, padding: 'same', useBias }),
      batchNorm(),
      activation('relu6'),
      conv2d(6, 1, { useBias }),
      batchNorm(),
      flatten(),
      dense(5),
    ],
    { inputShape: [10, 10, 3], seed: 3 },
  );
}

/**
 * A fresh `mobileNetStyleNet()`, a batch of four examples (seed 11) and a context for `trainStep` under
 * `optimizer` (trainStep reads the model, optimizer, task classes and rng; a task's data is not needed).
 */
export function netStepSetup(optimizer: tf.Optimizer, net: { useBias?: boolean } = {}): { model: Sequential; x: tf.Tensor; y: tf.Tensor1D; ctx: TrainContext } {
  const model = mobileNetStyleNet(net);
  const x = tf.randomNormal([4, 10, 10, 3], 0, 1, 'float32', 11);
  const y = tf.tensor1d([0, 1, 2, 4], 'int32');
  const task = { name: 't', classes: undefined };
  const ctx = { model, optimizer, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new Rng(0) } as unknown as TrainContext;
  return { model, x, y, ctx };
}

/** `steps` training steps on (x, y); their losses. */
export async function trainSteps(ctx: TrainContext, x: tf.Tensor, y: tf.Tensor1D, steps: number): Promise<number[]> {
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const l = trainStep({ x, y }, ctx, []);
    losses.push((await l.data())[0] as number);
    l.dispose();
  }
  return losses;
}
