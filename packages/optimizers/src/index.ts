/**
 * @forgetless/optimizers: WVA, weight velocity attenuation (papers 1 and 4), for any tfjs-core
 * optimizer, and pruning masks, as small transformations of gradients or steps. Each works as a
 * trainContinual plugin and, through `withTransforms` / `wva`, around any tf.Optimizer.
 */
export { type Attenuation, type AttenuationFn, type AttenuationName, type AttenuationOptions, attenuationFactors } from './attenuation.js';
export { attenuateGradients, attenuateSteps } from './attenuate.js';
export { type MaskedTransform, checkMasks, masked } from './masked.js';
export { type WvaPlugin, type WvaPluginOptions, wvaPlugin } from './plugin.js';
export { type Transform, scaleEntries } from './transform.js';
export { type NamedGradient, TransformedOptimizer, type WithTransformsOptions, withTransforms, wrappedOptimizer } from './transformed-optimizer.js';
export { ADAPTIVE_OPTIMIZERS, type ApplyTo, WvaOptimizer, type WvaOptions, defaultApplyTo, optimizerClassName, wva } from './wva.js';
