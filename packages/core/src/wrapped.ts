/**
 * `@forgetless/core/wrapped`: models shipped inside JavaScript files (UMD / CommonJS / ES module files
 * exporting the model.json object and base64 shards, as nsfwjs's `model.min.js`), read without running
 * them. A side-effect-free entry (acorn only, no tfjs) for code that sorts a user's files before any
 * model is loaded, such as a page's main thread; the loaders of `@forgetless/core` and
 * `@forgetless/core/node` read these files themselves.
 */
export { WRAPPED_MODEL_NAMES, isScriptText, modelJsonFromScript, shardBytesFromScript, wrappedShardNames } from './keras/wrapped.js';
