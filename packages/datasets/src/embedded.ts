/**
 * The embedded default: a class-balanced real subset of Fashion-MNIST shipped inside the package
 * (`data/fashion-mnist-subset/`: 1000 training and 200 test images per class, gzip IDX, MIT licence
 * notice beside it), made by `scripts/make-embedded.mjs` from Debian's dataset-fashion-mnist.
 *
 * Node reads it with `loadEmbedded()` from `@forgetless/datasets/node`. A browser fetches it like any
 * other MNIST-format folder: serve the folder (it is exported as `@forgetless/datasets/data/*`) and call
 * `fetchMnistFormat({ ...EMBEDDED_SOURCE, baseUrl: '<where it is served>' })`.
 */
import type { MnistFormatSource } from './sources.js';

/** The folder of the embedded files, relative to the package root. */
export const EMBEDDED_FOLDER = 'data/fashion-mnist-subset';

export const EMBEDDED_COUNTS = { trainPerClass: 1000, testPerClass: 200, numClasses: 10 } as const;

/** The embedded subset as a source; `baseUrl` is the package-relative folder, to be replaced by a served URL. */
export const EMBEDDED_SOURCE: MnistFormatSource = {
  name: 'fashion-mnist',
  baseUrl: `${EMBEDDED_FOLDER}/`,
  checksums: {
    'train-images-idx3-ubyte.gz': 'c74e820e2ae2fe521a5672de487ec5061e5a8949328e08279f7e472610b412a0',
    'train-labels-idx1-ubyte.gz': '16373338ddadc1726bfabf17a1efc0566edc25bcdf36c4127a6293a4b4c7e204',
    't10k-images-idx3-ubyte.gz': 'ec70539945e203b49e39168c75d53aeb266c8e312692069df314d1c6bb6ed288',
    't10k-labels-idx1-ubyte.gz': '0d7b59894ead5745350795d212f1cc1bd7030a147a8b5267996dfbddf388d998',
  },
  homepage: 'https://github.com/zalandoresearch/fashion-mnist',
  license: 'MIT, Copyright (c) 2017 Zalando SE',
};
