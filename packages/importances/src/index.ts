/**
 * @forgetless/importances: weight importances for continual learning and pruning (Fisher diagonal,
 * MAS, SI, SIG, magnitude, first-order Taylor) with exact per-example fast paths, accumulation over tasks, the tracker
 * plugin EWC and WVA build on, layer-wise correlations (paper 3), and a file format.
 */
export { ACCUMULATE_MODES, type AccumulateMode, type AccumulateOptions, accumulate } from './accumulate.js';
export { IMPORTANCE_METHODS, type ImportanceMethod, type ImportanceOptions, computeImportance } from './compute.js';
export {
  type CorrelationMethod,
  type CorrelationOptions,
  type CorrelationScope,
  type CorrelationTable,
  type CorrelationTableOptions,
  type LayerCorrelation,
  correlate,
  correlationTable,
  pearson,
  ranks,
  spearman,
} from './correlation.js';
export { FISHER_VARIANTS, type FisherOptions, type FisherVariant, type GradientPath, fisherDiagonal } from './fisher.js';
export { type ImportanceDescription, type ImportanceMetadata, decodeImportances, encodeImportances, importanceMetadata } from './format.js';
export { endsInSoftmax, forwardLogits } from './logits.js';
export { loopSums } from './loop.js';
export { magnitude } from './magnitude.js';
export { type MasOptions, type MasOutput, mas } from './mas.js';
export { type ExampleObjective, type ParamSums, type PerExampleOptions, type SumsRequest, hasFastPath, perExampleSums } from './per-example.js';
export {
  type CorrelationRecord,
  type CorrelationRecorder,
  type CorrelationRecorderOptions,
  type CorrelationSurface,
  METHOD_LABELS,
  correlationRecorder,
} from './recorder.js';
export { type SiOptions, type SiTracker, siTracker } from './si.js';
export { type SigOptions, sig } from './sig.js';
export { type TaylorOptions, taylor } from './taylor.js';
export { type ImportanceTracker, type ImportanceTrackerOptions, type ImportanceUpdate, importanceTracker } from './tracker.js';
