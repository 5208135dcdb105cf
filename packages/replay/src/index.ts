/**
 * @forgetless/replay: experience replay for `trainContinual`. A memory of past examples with a fixed
 * budget (total or per class), filled by reservoir, class-balanced or herding selection, mixed into
 * each batch at a chosen ratio, with output masks per example in the task-incremental scenario and
 * its contents in the checkpoint (exact resume). Combines with every regulariser.
 */
export { type Examples, type ReplayMemoryMeta, type ReplayMemoryOptions, ReplayMemory, SELECTIONS, type Selection, herding } from './memory.js';
export { type ReplayOptions, type ReplayPlugin, replay } from './plugin.js';
