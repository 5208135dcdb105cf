/**
 * @forgetless/pruning: importance-ranked pruning (paper 2, arXiv 2109.10021) of forgetless models and
 * of pretrained TensorFlow.js LayersModels: exact-count masks (global or per layer, weights or whole
 * units), schedules (one-shot, iterative, tfmot's polynomial decay) applied inside `trainContinual`
 * with pruned weights held at zero, and models saved back in a form stock TensorFlow.js loads.
 * Browser-safe; loading and saving files is in `@forgetless/pruning/node`.
 */
export { checkSparsity, removedCount } from './check.js';
export { fineTune, type IterativePruneOptions, type IterativeRound, pruneIteratively } from './fine-tune.js';
export {
  PAPER2_GLOBAL_SPARSITIES,
  PAPER2_LABELS,
  PAPER2_LAYER_SPARSITIES,
  PAPER2_METHODS,
  PAPER2_PRUNING,
  type Paper2PruningEvent,
  type Paper2PruningOptions,
  type Paper2PruningResult,
  type Paper2PruningRow,
  paper2Accuracy,
  paper2PruningExperiment,
} from './experiment.js';
export { type ImportanceSource, type ImportanceSpec, resolveImportance } from './importance.js';
export { type HostArray, type PruneOptions, applyMasks, masksFromScores, pruningMasks, pruningMasksSync } from './masks.js';
export { type PluginImportance, type PruneEvent, type PruningPlugin, type PruningPluginOptions, pruningPlugin } from './plugin.js';
export { type PackNetOptions, type PackNetPlugin, packNet } from './packnet.js';
export { type PruneModelOptions, type PruneModelResult, prune } from './prune.js';
export { selectSmallest } from './rank.js';
export {
  type ParamSparsity,
  type SizeReport,
  type SparsityReport,
  type Tally,
  countZeros,
  formatSparsityReport,
  gzipSize,
  sizeReport,
  sparsityReport,
} from './report.js';
export {
  type IterativeSchedule,
  type PolynomialDecayOptions,
  type PruningSchedule,
  type ScheduleDecision,
  constantSparsity,
  iterative,
  oneShot,
  polynomialDecay,
  shouldPruneInStep,
} from './schedule.js';
export { type PruneScopeOptions, groupByLayer, layerOf, localOf, prunableParams } from './scope.js';
export {
  type DenseTensorData,
  type SparseEncoding,
  type SparseEntry,
  type SparseLayersModel,
  type SparseManifest,
  decodeSparse,
  encodeSparse,
  layersModelFromSparse,
  sparseLayersModel,
} from './sparse.js';
export {
  type ChannelGroup,
  type ContinualStructureOptions,
  type ContinualStructureTask,
  type IterativeStructureOptions,
  type StructureRound,
  type StructureTrainOptions,
  type ChannelSlice,
  type DependencyGroups,
  type HostImportances,
  type SelectOptions,
  type Selection,
  type StructureCounts,
  type StructureNode,
  type StructurePruneOptions,
  type StructurePruneResult,
  type StructureTarget,
  copyLayer,
  dependencyGroups,
  formatGroups,
  GROUP_REDUCES,
  type GroupReduce,
  checkGroupReduce,
  groupImportance,
  groupScores,
  hostImportances,
  pruneLayersModelStructure,
  pruneStructure,
  pruneStructureIteratively,
  removableGroups,
  removeGroups,
  removeGroupsFromLayersModel,
  selectGroups,
  sliceTensor,
  structureCounts,
  summarizeTimes,
  timeInference,
  timeModel,
  timeTrainStep,
  trainShrinking,
  type SpeedOptions,
  type TimeOptions,
  type Timing,
} from './structure/index.js';
export { UNIT_SCORES, type UnitScore, unitCount, unitMasks, unitScores } from './structured.js';
// the LayersModel importer moved to @forgetless/core (it serves every method, not only pruning)
export {
  type LoadedLayersModel,
  type SaveOptions,
  type SavedLayersModel,
  type ShardReader,
  type UrlLoadOptions,
  type WeightEntry,
  checkShardPath,
  layersModelArtifacts,
  loadLayersModelFromArtifacts,
  loadLayersModelFromJson,
  loadLayersModelFromUrl,
  parseModelJson,
  shardUrl,
  toModelArtifacts,
} from '@forgetless/core';
