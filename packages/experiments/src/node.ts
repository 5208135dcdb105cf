/**
 * Node-only (`@forgetless/experiments/node`): runExperiment's checkpoints as files, written after
 * every task (a generation of tensor files, then state.json atomically), and read back to resume.
 */
export { CHECKPOINT_DIR, CheckpointError, type LoadedCheckpoint, fileCheckpoint, loadCheckpoint } from './node/checkpoint.js';
