/**
 * @forgetless/regularizers: EWC (online, separate, decay; λ·I or Kirkpatrick's λ/2·I), stabilised
 * EWC (paper 2) and L2, as consolidation plugins of `trainContinual` whose penalty gradient is added
 * in closed form, built on the importance tracker of `@forgetless/importances`.
 */
export type { Consolidation, ConsolidationKind, ConsolidationTerm } from './consolidation.js';
export { type EwcOptions, ewc } from './ewc.js';
export { CONSOLIDATION_MODES, type ConsolidationMode, type ImportanceSource } from './importance-source.js';
export { type L2Options, l2 } from './l2.js';
export { EWC_CONVENTIONS, type EwcConvention, type QuadraticTerm, ewcCoefficient, quadraticPenalty, stabilizedCoefficient } from './penalty.js';
export { type StabilizedEwcOptions, stabilizedEwc } from './stabilized.js';
export { type LwfOptions, type LwfPlugin, distillationLoss, lwf } from './lwf.js';
export type { ConsolidationMeta, ConsolidationState } from './state.js';
