/**
 * @forgetless/core: models over tfjs-core with fast gradients on every backend, the continual
 * training loop and its plugin hooks, parameter maps, and continual-learning metrics.
 */
import './gradients.js';

export { type BackendName, type UseBackendOptions, probeBackends, useBackend } from './backend.js';
export { type ArraySourceOptions, type Batch, type BatchOptions, type DataSource, type Task, ArraySource, arraySource } from './data.js';
export { type InitializerName, initialize, toVariable } from './init.js';
export { type ActivationLike, type ActivationName, type ActivationSpec, applyActivation, toActivationSpec } from './layers/activation.js';
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
export type { ApplyContext, Layer, LayerCapture, LayerConfig, LayerKind } from './layers/layer.js';
export { countCorrect, maskLogits, softmaxCrossEntropy } from './loss.js';
export { averageAccuracy, averageForgetting, backwardTransfer, forwardTransfer } from './metrics.js';
export { type ForwardOptions, LAYER_NAME_PREFIX, type ModelConfig, Sequential, type SequentialOptions, modelFromConfig, sequential } from './model.js';
export { type Conv2dGeometry, type Padding, conv2d as conv2dOp, conv2dFilterGrad, convPadding } from './ops/conv2d.js';
export { dense as denseOp } from './ops/dense.js';
export { type GradientMode, getGradientMode, matMulAT, matMulBT, registerForgetlessGradients, setGradientMode, withGradientMode } from './ops/gradients.js';
export { maxPoolGrad } from './ops/max-pool.js';
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
export { Rng } from './rng.js';
export { type SyntheticOptions, syntheticPermutedTasks } from './synthetic.js';
export {
  type ContinualOptions,
  type ContinualResult,
  type ProgressEvent,
  type TaskEndEvent,
  type TaskTiming,
  trainContinual,
} from './train/continual.js';
export { type EvaluateOptions, evaluate } from './train/evaluate.js';
export type { Penalty, Plugin, StepInfo, TrainContext } from './train/plugin.js';
export { trainStep } from './train/step.js';
export { yieldToEventLoop } from './train/yield.js';
export { type ParamMapManifest, decodeParamMap, encodeParamMap } from './weights-format.js';
