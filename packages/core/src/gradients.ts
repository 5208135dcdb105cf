/**
 * Registers tfjs-core's own gradient functions (relu, matMul, conv2d, ...) with the global engine.
 *
 * tfjs-core publishes them only as extensionless ES modules, which plain Node (ESM or CJS) cannot
 * import, so training fails with "Cannot compute gradient: gradient function not found". The build
 * bundles them into `generated/tfjs-gradients.js`; importing `@forgetless/core` runs it once.
 * Registration is idempotent: tfjs keeps one gradient registry on its global namespace.
 * Then forgetless's backend-aware gradients (`ops/gradients.ts`, `ops/gather.ts`) are registered over some of them.
 */
import '@tensorflow/tfjs-core';
import './generated/tfjs-gradients.js';
import { registerGatherGradient } from './ops/gather.js';
import { registerForgetlessGradients } from './ops/gradients.js';

registerForgetlessGradients();
registerGatherGradient();
