/**
 * @forgetless/datasets: MNIST-format data (IDX reader, loaders from bytes or URLs with checksums and a
 * cache, an embedded Fashion-MNIST subset) and continual task sequences (permuted, split, rotated, a
 * queue of datasets) as core `Task`s over shared Uint8Arrays. Browser-safe; Node-only loading from
 * folders and the environment is in `@forgetless/datasets/node`.
 */
export { type GunzipOptions, crc32, gunzip, gunzipStream, isGzip } from './gzip.js';
export { DEFAULT_IDX_MAX_BYTES, type IdxArray, type IdxData, type IdxType, type ParseIdxOptions, encodeIdx, parseIdx } from './idx.js';
export {
  type ImageSet,
  MNIST_FILE_ROLES,
  MNIST_FORMAT_FILES,
  type MnistFileRole,
  type MnistFormatDataset,
  type MnistFormatOptions,
  classCounts,
  mnistFormatFileNames,
  mnistFormatFromBytes,
} from './mnist-format.js';
export {
  type ByteCache,
  type Checksums,
  type FetchMnistFormatOptions,
  type FetchOptions,
  fetchMnistFormat,
  fetchVerified,
  memoryCache,
} from './fetch-cache.js';
export { sha256Hex } from './sha256.js';
export { MNIST_FORMAT_SOURCES, type MnistFormatSource } from './sources.js';
export { EMBEDDED_COUNTS, EMBEDDED_FOLDER, EMBEDDED_SOURCE } from './embedded.js';
export {
  type DatasetPartsOptions,
  type PartOptions,
  type TaskParts,
  datasetParts,
  exampleShape,
  holdOut,
  positionsOfClasses,
  validationCount,
} from './sequences/parts.js';
export { type PermutedOptions, invertPermutation, permutedTasks, taskPermutations } from './sequences/permuted.js';
export { DEFAULT_SPLIT_GROUPS, type SplitMode, type SplitOptions, splitTasks } from './sequences/split.js';
export { type RotatedOptions, isRightAngle, rotateImages, rotatedTasks, rotationPermutation } from './sequences/rotated.js';
export { type QueueOptions, datasetQueue } from './sequences/queue.js';
export {
  SEQUENCE_NAMES,
  type SequenceData,
  type SequenceName,
  type SequenceOptionsByName,
  isSequenceName,
  taskSequence,
} from './sequences/registry.js';
