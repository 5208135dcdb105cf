/**
 * @forgetless/core: models over tfjs-core with fast gradients on every backend, the continual
 * training loop and its plugin hooks, parameter maps, and continual-learning metrics.
 */
import './gradients.js';

export { type BackendName, type UseBackendOptions, probeBackends, useBackend } from './backend.js';
export { WASM_HEAP_MAX_BYTES, WasmOutOfMemoryError } from './ops/wasm-memory.js';
export { type ArraySourceOptions, type Batch, type BatchOptions, type ConcatPart, type DataSource, type Task, ArraySource, arraySource, concatSources } from './data.js';
export { type BodyErrors, readResponseBody } from './fetch-body.js';
export { type InitializerName, initialize, toVariable, withShapeOnlyVariables } from './init.js';
export { ACTIVATION_NAMES, type ActivationLike, type ActivationName, type ActivationSpec, applyActivation, toActivationSpec } from './layers/activation.js';
export {
  Activation,
  BatchNorm,
  type BatchNormOptions,
  Conv2d,
  type Conv2dOptions,
  Dense,
  type DenseOptions,
  Dropout,
  Flatten,
  Pool2d,
  type Pool2dOptions,
  activation,
  avgPool2d,
  batchNorm,
  conv2d,
  dense,
  dropout,
  flatten,
  layerFromConfig,
  maxPool2d,
} from './layers/index.js';
export { type ApplyContext, type Layer, type LayerCapture, type LayerConfig, type LayerKind, type MergeLayer, type Shape, isMergeLayer } from './layers/layer.js';
export { countCorrect, maskLogits, softmaxCrossEntropy } from './loss.js';
export { averageAccuracy, averageForgetting, backwardTransfer, forwardTransfer } from './metrics.js';
export { type ForwardOptions, type LayerShapes, type Model, exampleShapeProblem, shapeSize } from './contract.js';
export { type GraphModelOptions, type GraphNode, GraphModel, graphModel } from './graph.js';
export { LAYER_NAME_PREFIX, type ModelConfig, Sequential, type SequentialOptions, modelFromConfig, sequential } from './model.js';
export { type Conv2dGeometry, type Padding, conv2d as conv2dOp, conv2dFilterGrad, convPadding } from './ops/conv2d.js';
export { dense as denseOp } from './ops/dense.js';
export {
  type SimdKernelsStatus,
  depthwisePerExampleSum,
  depthwiseSimdAvailable,
  disableDepthwiseSimd,
  simdKernelsStatus,
  whenSimdKernelsReady,
} from './ops/depthwise-simd.js';
export { convPerExampleSum, setSimdConvInputGrad, type TapPads, tapAbsSums } from './ops/gemm-simd.js';
export { type BatchNormSumsRequest, batchNormExampleSums, setSimdBatchNormInference, setSimdPerExampleSums } from './ops/norm-simd.js';
export { setConvBatchNormFusion } from './ops/conv-bn.js';
export { kernelThreadsStatus, setKernelThreads } from './ops/kernel-threads.js';
export { setBatchNormReluFusion } from './layers/batch-norm.js';
export { setSimdPoolGrads } from './ops/max-pool.js';
export { setLightSaves, withLightSaves } from './ops/light-saves.js';
export { setInPlaceUpdates } from './ops/in-place.js';
export { addTap, lightTapsOn, recordingTap, setLightTaps, type TapRecord, zeroTap } from './ops/tap.js';
export { type ConvFormulation, getConvFormulation, isAutoFormulation, setConvFormulation, withConvFormulation, withLayerFusion } from './ops/formulation.js';
export { conv2dFilterGradIm2col, conv2dInputGradIm2col, conv2dInputGradTaps } from './ops/im2col.js';
export { phaseView, strideScatter, stridePhases, strideView } from './ops/windows.js';
export { ensureWasmKernels, restoreStockWasmKernels } from './ops/wasm-kernels.js';
export {
  conv2dBackpropFilter,
  conv2dBackpropInput,
  DENSE_ON_POINTWISE_MAX,
  depthwiseBackpropFilter,
  depthwiseBackpropInput,
  type GradientMode,
  getGradientMode,
  matMulAT,
  matMulBT,
  pointwiseConvOnSimd,
  registerForgetlessGradients,
  setDenseOnPointwise,
  setGradientMode,
  withGradientMode,
} from './ops/gradients.js';
export { maxPoolGrad } from './ops/max-pool.js';
export { ensureOwnGradients, ownGradientKernels, registerOwnGradient } from './ops/own-gradients.js';
export {
  type ParamMap,
  addParams,
  assertFinite,
  assertSameShape,
  cloneParams,
  countParams,
  disposeParams,
  fillParams,
  keepParams,
  mapParams,
  scaleParams,
  sumParams,
  zipParams,
} from './params.js';
export { type MlpOptions, mlp, modelFromSpec, paper2ConvNet } from './presets.js';
export { type HeadGrowth, growHead, headWidth, widenHead, withHeadWidth } from './head.js';
export { MultiHead, type MultiHeadConfig, isMultiHead, multiHead, multiHeadFromConfig } from './multi-head.js';
export { editOptimizerSlots, widenOptimizerSlots } from './train/optimizer-slots.js';
export { Rng, type RngState } from './rng.js';
export { type SyntheticOptions, syntheticPermutedTasks } from './synthetic.js';
export {
  type ContinualOptions,
  type ContinualResult,
  type Divergence,
  type ProgressEvent,
  type TaskEndEvent,
  type TaskTiming,
  type TrainingWarning,
  trainContinual,
} from './train/continual.js';
export { type NonFiniteValue, assertFiniteModel, findNonFinite, findNonFiniteAsync, maxAbsPerParameter } from './train/health.js';
export { type EvaluateOptions, evaluate } from './train/evaluate.js';
export type { Penalty, Plugin, StepInfo, TrainContext } from './train/plugin.js';
export { prepareBatch, trainStep } from './train/step.js';
export { type VariableGradient, applyGradientsInOne } from './train/apply.js';
export { type ConsolidateOptions, consolidate } from './train/consolidate.js';
export { yieldToEventLoop } from './train/yield.js';
export { type ParamMapManifest, decodeParamMap, encodeParamMap } from './weights-format.js';
export { Conv1d, type Conv1dOptions, type Conv1dPadding } from './layers/conv1d.js';
export { Conv2dTranspose, type Conv2dTransposeOptions } from './layers/conv2d-transpose.js';
export { DepthwiseConv2d, type DepthwiseConv2dOptions } from './layers/depthwise-conv2d.js';
export { SeparableConv2d, type SeparableConv2dOptions } from './layers/separable-conv2d.js';
export { LayerNorm, type LayerNormOptions } from './layers/layer-norm.js';
export { PReLU, type PReLUOptions } from './layers/prelu.js';
export { Embedding, type EmbeddingOptions } from './layers/embedding.js';
export {
  AlphaDropout,
  GaussianDropout,
  GaussianNoise,
  Rescaling,
  type RescalingOptions,
  Softmax,
  type SoftmaxOptions,
  SpatialDropout,
  type SpatialDropoutOptions,
} from './layers/elementwise.js';
export {
  Cropping2d,
  type Cropping2dOptions,
  type Margins2d,
  Permute,
  type PermuteOptions,
  Reshape,
  type ReshapeOptions,
  UpSampling2d,
  type UpSampling2dOptions,
  ZeroPadding2d,
  type ZeroPadding2dOptions,
} from './layers/shape.js';
export { GlobalPool, type GlobalPoolOptions, Pool1d, type Pool1dOptions } from './layers/pooling.js';
export { Add, Average, Concatenate, type ConcatenateOptions, Maximum, Minimum, Multiply, Subtract } from './layers/merge.js';
export { kerasActivation } from './keras/activations.js';
export { type ImportOptions, type ImportedGraph, type LayerBinding, importKerasTopology } from './keras/import.js';
export {
  type ConvertContext,
  type ConvertedLayer,
  type KerasLayerConfig,
  type KerasLayerConverter,
  kerasLayerConverter,
  registerKerasLayers,
  supportedKerasLayers,
} from './keras/registry.js';
export { type KerasGraph, type KerasNode, parseKerasTopology } from './keras/topology.js';
export {
  DEFAULT_MODEL_MAX_BYTES,
  type LoadLayersModelOptions,
  type LoadedLayersModel,
  type ShardReadOptions,
  type ShardReader,
  type UrlLoadOptions,
  type WeightEntry,
  loadLayersModelFromArtifacts,
  loadLayersModelFromJson,
  loadLayersModelFromUrl,
  parseModelJson,
} from './keras/load.js';
export { checkShardPath, shardUrl } from './keras/paths.js';
export { WRAPPED_MODEL_NAMES, isScriptText, modelJsonFromScript, shardBytesFromScript, wrappedShardNames } from './keras/wrapped.js';
export { type HeadChange, type HeadMode, type ResizeHeadOptions, classifierHead, kerasLayerConfig, resizeHead } from './keras/head.js';
export { type SaveOptions, type SavedLayersModel, type SavedWeightReport, layersModelArtifacts, toModelArtifacts } from './keras/save.js';
export { type EncodedWeight, type StoredDtype, type WeightReport, encodeWeight, storedDtype } from './keras/quantize.js';
export { type LiveLayersModel, fromLayersModel, writeBack } from './keras/live.js';
