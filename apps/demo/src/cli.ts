#!/usr/bin/env node
/**
 * forgetless demo (first cut): a continual-learning run on the embedded Fashion-MNIST subset:
 * three permuted tasks, a 784-100-10 MLP trained with SGD, the accuracy matrix after each task.
 */
import * as tf from '@tensorflow/tfjs-core';
import { averageForgetting, mlp, trainContinual, useBackend } from '@forgetless/core';
import { taskSequence } from '@forgetless/datasets';
import { loadEmbedded } from '@forgetless/datasets/node';
import cliProgress from 'cli-progress';

async function main(): Promise<void> {
  const backend = await useBackend('wasm');
  const dataset = await loadEmbedded();
  const tasks = taskSequence('permuted', { dataset, numTasks: 3, seed: 1 });
  const model = mlp([784, 100, 10], { seed: 1 });
  const optimizer = tf.train.sgd(0.1);
  console.log(`forgetless demo: ${tasks.length} permuted Fashion-MNIST tasks (embedded subset), MLP 784-100-10, SGD, ${backend} backend`);
  const bar = new cliProgress.SingleBar(
    { format: '{task} |{bar}| {value}/{total} steps | loss {loss} | {speed} ex/s', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let current = -1;
  const result = await trainContinual(model, tasks, {
    optimizer,
    epochs: 1,
    batchSize: 100,
    progressEvery: 5,
    onProgress: (e) => {
      if (e.kind === 'task') {
        bar.stop();
        console.log(`  after ${e.taskName}: accuracy on tasks so far ${e.accuracies?.map((a) => a.toFixed(3)).join(' ')}`);
        return;
      }
      if (e.taskIndex !== current) {
        current = e.taskIndex;
        bar.start(e.stepsInTask, 0, { task: e.taskName, loss: '-', speed: '-' });
      }
      bar.update(e.taskStep, { loss: e.loss?.toFixed(3) ?? '-', speed: e.examplesPerSecond?.toFixed(0) ?? '-' });
    },
  });
  bar.stop();
  console.log(`average accuracy after each task: ${result.averageAccuracy.map((a) => a.toFixed(3)).join(' ')}`);
  console.log(`average forgetting: ${averageForgetting(result.accuracy).toFixed(3)}`);
  optimizer.dispose();
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(`forgetless: ${(e as Error).message}`);
  process.exit(1);
});
