/**
 * @forgetless/datasets: MNIST-format data (IDX reader, loaders from bytes or URLs with checksums and a
 * cache, an embedded Fashion-MNIST subset) and continual task sequences (permuted, split, rotated, a
 * queue of datasets) as core `Task`s over shared Uint8Arrays; image sets for fine-tuning a pretrained
 * model (folders decoded in the page, .npy arrays, a model's preprocessing, seeded splits, class
 * checks against the model's head). Browser-safe; Node-only loading from
 * folders and the environment is in `@forgetless/datasets/node`.
 */
export { type GunzipOptions, crc32, gunzip, gunzipStream, isGzip } from './gzip.js';
export { DEFAULT_IDX_MAX_BYTES, type IdxArray, type IdxData, type IdxType, type ParseIdxOptions, encodeIdx, parseIdx } from './idx.js';
export {
  MNIST_FILE_ROLES,
  MNIST_FORMAT_FILES,
  type MnistFileRole,
  type MnistFormatDataset,
  type MnistImages,
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
export { DEFAULT_SPLIT_GROUPS, SCENARIOS, type Scenario, type SplitMode, type SplitOptions, splitTasks } from './sequences/split.js';
export { cumulativeTasks } from './sequences/joint.js';
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
export {
  type ChannelOrder,
  type ImagePreprocessing,
  PREPROCESSING_NAMES,
  type ResolvedPreprocessing,
  parsePreprocessing,
  resolvePreprocessing,
} from './images/preprocessing.js';
export { type ImageSet, type ImageSetSourceOptions, type NumericArray, arraysToImageSet, imageSetSource } from './images/image-set.js';
export { type SplitIndicesOptions, type Splits, splitIndices } from './images/split.js';
export { type CheckClassesOptions, type ClassCheck, HEAD_CHANGES, type HeadChange, checkClasses } from './images/classes.js';
export { DEFAULT_NPY_MAX_BYTES, type NpyArray, type NpyData, type ParseNpyOptions, encodeNpy, parseNpy } from './images/npy.js';
export {
  type CropRect,
  DEFAULT_IMAGE_MAX_BYTES,
  IMAGE_EXTENSIONS,
  type ImageFit,
  type ImagePlan,
  type PlanOptions,
  classOfPath,
  compareNames,
  cropRect,
  isImageFile,
  planImages,
  rgbaToPixels,
} from './images/layout.js';
export { type DecodeImageBlobsOptions, type DecodedImageSet, decodeImageBlobs } from './images/decode-blobs.js';
