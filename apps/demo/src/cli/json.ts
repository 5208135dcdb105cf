// JSON for results and checkpoints (NaN written as null and read back): @forgetless/experiments'.
export { fromJson, toJson } from '@forgetless/experiments';
