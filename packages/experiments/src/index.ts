/**
 * The experiment runner of the demo, browser-safe (no node:* imports): configs and their
 * validation, the method registry, presets with the papers' published numbers, the runner with
 * checkpoint hooks, summaries and chart specs. The CLI (src/cli) and the browser page (web/) both
 * build on it. File checkpoints (Node) are in `@forgetless/experiments/node`.
 */
export * from './cells.js';
export * from './charts.js';
export * from './config.js';
export { fromJson, toJson } from './json.js';
export * from './methods.js';
export * from './optimizer.js';
export * from './presets.js';
export * from './protocols.js';
export * from './pruning.js';
export * from './run.js';
export * from './summary.js';
export * from './tasks.js';
