/**
 * Node-only loading (`@forgetless/datasets/node`): IDX files and MNIST-format folders on disk, a base URL
 * with a cache folder and SHA-256 checks, where data is found (FORGETLESS_DATA, Debian's
 * dataset-fashion-mnist, the embedded subset), and task sequences by name over that data; image folders
 * decoded with sharp (an optional peer dependency) and .npy files.
 */
export { directoryCache } from './directory-cache.js';
export { embeddedDataDir, loadEmbedded } from './embedded-node.js';
export { DEFAULT_QUEUE_DATASETS, type LoadDatasetOptions, type LoadSequenceOptions, loadDataset, loadTaskSequence } from './load.js';
export {
  DATA_ENV,
  DEFAULT_DATASET,
  type DataLocation,
  type DataOrigin,
  type LocateOptions,
  SYSTEM_DATA_ROOTS,
  cacheRoot,
  isFolderName,
  locateDataset,
  searchedPlaces,
} from './locate.js';
export { type LoadFolderOptions, type LoadRemoteOptions, findMnistFormatFiles, loadMnistFormat, readIdxFile, sha256HexNode } from './read-files.js';
export { type ImageFolderSet, type LoadImageFolderOptions, type ResizeKernel, loadImageArrays, loadImageFolder, loadNpyFile } from './images/folder-node.js';
