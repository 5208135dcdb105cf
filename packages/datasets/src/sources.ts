/**
 * Published MNIST-format datasets: where to download them and the SHA-256 of each gzip file
 * (the canonical files; the same digests are pinned by torchvision, TFDS and others).
 */
import type { Checksums } from './fetch-cache.js';

export interface MnistFormatSource {
  name: string;
  baseUrl: string;
  checksums: Checksums;
  homepage: string;
  license: string;
}

export const MNIST_FORMAT_SOURCES: Readonly<Record<'mnist' | 'fashion-mnist', MnistFormatSource>> = {
  mnist: {
    name: 'mnist',
    baseUrl: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
    checksums: {
      'train-images-idx3-ubyte.gz': '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
      'train-labels-idx1-ubyte.gz': '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
      't10k-images-idx3-ubyte.gz': '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
      't10k-labels-idx1-ubyte.gz': 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
    },
    homepage: 'http://yann.lecun.com/exdb/mnist/',
    license: 'Yann LeCun and Corinna Cortes; see the homepage for terms of use',
  },
  'fashion-mnist': {
    name: 'fashion-mnist',
    baseUrl: 'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
    checksums: {
      'train-images-idx3-ubyte.gz': '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84',
      'train-labels-idx1-ubyte.gz': 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845',
      't10k-images-idx3-ubyte.gz': '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073',
      't10k-labels-idx1-ubyte.gz': '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5',
    },
    homepage: 'https://github.com/zalandoresearch/fashion-mnist',
    license: 'MIT, Copyright (c) 2017 Zalando SE',
  },
};
