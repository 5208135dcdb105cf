#!/usr/bin/env node
// Makes the embedded default of @forgetless/datasets: a class-balanced subset of Fashion-MNIST
// (1000 training and 200 test images per class, chosen by a seeded permutation, kept in their
// original order), written as gzip IDX files with the licence notice and SHA256SUMS.
// Usage (after `npm run build`): node scripts/make-embedded.mjs [sourceDir] [outDir]
// Default source: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@forgetless/core';
import { MNIST_FORMAT_FILES, classCounts, encodeIdx, mnistFormatFromBytes } from '../dist/index.js';

const SEED = 2017;
const TRAIN_PER_CLASS = 1000;
const TEST_PER_CLASS = 200;

const here = dirname(fileURLToPath(import.meta.url));
const sourceDir = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const outDir = process.argv[3] ?? join(here, '..', 'data', 'fashion-mnist-subset');

const read = (role) => readFileSync(join(sourceDir, MNIST_FORMAT_FILES[role]));
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const files = { trainImages: read('trainImages'), trainLabels: read('trainLabels'), testImages: read('testImages'), testLabels: read('testLabels') };
const data = mnistFormatFromBytes(files, { name: 'fashion-mnist' });
const pixels = data.rows * data.cols;

/** Indices of `perClass` examples of every class: the first ones met in a seeded permutation, then sorted. */
function balancedSubset(set, perClass, label) {
  const order = new Rng(SEED).fork(label).permutation(set.count);
  const taken = new Array(data.numClasses).fill(0);
  const chosen = [];
  for (const i of order) {
    const c = set.labels[i];
    if (taken[c] < perClass) {
      taken[c]++;
      chosen.push(i);
    }
  }
  if (taken.some((t) => t < perClass)) throw new Error(`${label}: a class has fewer than ${perClass} examples (${taken})`);
  return Int32Array.from(chosen).sort();
}

function gather(set, indices) {
  const images = new Uint8Array(indices.length * pixels);
  const labels = new Uint8Array(indices.length);
  indices.forEach((src, dst) => {
    images.set(set.images.subarray(src * pixels, (src + 1) * pixels), dst * pixels);
    labels[dst] = set.labels[src];
  });
  return { images, labels, count: indices.length };
}

const train = gather(data.train, balancedSubset(data.train, TRAIN_PER_CLASS, 'train'));
const test = gather(data.test, balancedSubset(data.test, TEST_PER_CLASS, 'test'));
const outputs = {
  trainImages: encodeIdx({ type: 'uint8', dims: [train.count, data.rows, data.cols], data: train.images }, { gzip: true }),
  trainLabels: encodeIdx({ type: 'uint8', dims: [train.count], data: train.labels }, { gzip: true }),
  testImages: encodeIdx({ type: 'uint8', dims: [test.count, data.rows, data.cols], data: test.images }, { gzip: true }),
  testLabels: encodeIdx({ type: 'uint8', dims: [test.count], data: test.labels }, { gzip: true }),
};

mkdirSync(outDir, { recursive: true });
const sums = [];
for (const [role, bytes] of Object.entries(outputs)) {
  writeFileSync(join(outDir, MNIST_FORMAT_FILES[role]), bytes);
  sums.push(`${sha256(bytes)}  ${MNIST_FORMAT_FILES[role]}`);
}
writeFileSync(join(outDir, 'SHA256SUMS'), `${sums.join('\n')}\n`);
const sourceSums = Object.keys(files).map((role) => `    ${sha256(files[role])}  ${MNIST_FORMAT_FILES[role]}`);
writeFileSync(
  join(outDir, 'README.md'),
  `# Fashion-MNIST, class-balanced subset

${train.count} training images (${TRAIN_PER_CLASS} per class) and ${test.count} test images (${TEST_PER_CLASS} per class) of
Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, https://github.com/zalandoresearch/fashion-mnist),
${data.rows}×${data.cols} grayscale, in the MNIST IDX format (gzip). This is the default data of
@forgetless/datasets when no other data is found, so examples and the demo run with no network.

Made by \`packages/datasets/scripts/make-embedded.mjs\` (seed ${SEED}) from Debian's
\`dataset-fashion-mnist\` package, whose gzip files (SHA-256 below) differ byte-wise from the ones
Zalando publishes:

${sourceSums.join('\n')}

For each split, a seeded permutation of the examples is walked and the first examples of each class
are kept until every class has its quota; the kept examples stay in their original order.
Class counts: train ${JSON.stringify(classCounts(train.labels, data.numClasses))}, test ${JSON.stringify(classCounts(test.labels, data.numClasses))}.

Fashion-MNIST is released under the MIT licence; see LICENSE in this folder.
`,
);
writeFileSync(
  join(outDir, 'LICENSE'),
  `The MIT License (MIT)

Copyright (c) 2017 Zalando SE

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`,
);
console.log(`wrote ${train.count} training and ${test.count} test images to ${outDir}`);
for (const line of sums) console.log(line);
