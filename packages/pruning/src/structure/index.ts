/** Structural pruning: dependency groups, group scores, removal into a smaller model. */
export { type ChannelGroup, type ChannelSlice, type DependencyGroups, type StructureNode, dependencyGroups, formatGroups, removableGroups } from './groups.js';
export { removeGroupsFromLayersModel } from './layers-model.js';
export { type StructurePruneOptions, type StructurePruneResult, pruneLayersModelStructure, pruneStructure } from './prune-structure.js';
export { copyLayer, removeGroups, sliceTensor } from './remove.js';
export {
  GROUP_REDUCES,
  type GroupReduce,
  type HostImportances,
  type SelectOptions,
  type Selection,
  type StructureCounts,
  type StructureTarget,
  checkGroupReduce,
  groupImportance,
  groupScores,
  hostImportances,
  selectGroups,
  structureCounts,
} from './score.js';
export {
  type ContinualStructureOptions,
  type ContinualStructureTask,
  type IterativeStructureOptions,
  type StructureRound,
  type TrainOptions as StructureTrainOptions,
  pruneStructureIteratively,
  trainShrinking,
} from './training.js';
export { type SpeedOptions, type TimeOptions, type Timing, summarizeTimes, timeInference, timeModel, timeTrainStep } from './measure.js';
