/**
 * Registers tfjs-core's own gradient functions (relu, matMul, conv2d, ...) with the global engine.
 *
 * `#tfjs-gradients` (package.json "imports", files made by scripts/bundle-gradients.mjs) is:
 * - for bundlers and browsers ("default"), tfjs-core's own `dist/register_all_gradients.js`, the
 *   module `@tensorflow/tfjs` and tfjs-layers import too: an application holds one copy of tfjs's
 *   gradient code, evaluated once, whoever imports it first;
 * - in Node ("node") and for `require` (the CommonJS twin, e.g. under Jest), whose loaders cannot
 *   follow tfjs-core's extensionless ESM imports, a copy bundled at build time that registers only
 *   the gradients no one registered yet.
 * tfjs keeps one gradient registry on its global namespace. Then forgetless's backend-aware gradients
 * (`ops/gradients.ts`, `ops/gather.ts`) are registered over some of them (and put back by
 * `ensureOwnGradients()` if tfjs registers its own again later).
 */
import '@tensorflow/tfjs-core';
import '#tfjs-gradients';
import { registerGatherGradient } from './ops/gather.js';
import { registerForgetlessGradients } from './ops/gradients.js';

registerForgetlessGradients();
registerGatherGradient();
