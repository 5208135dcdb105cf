/**
 * The classes of a fine-tuning: which output of the model each old and new class folder is, after
 * the head change. Browser-safe.
 *
 * - `keep`: the model's outputs are named by `modelClasses` (a labels file) or, without one, by the
 *   old data's folders (their count must be the model's output width); new classes must be among them
 *   (new data for classes the model has: a new domain, more examples).
 * - `extend`: as keep for the old classes; new classes not among them get new outputs after the old ones.
 * - `replace`: the outputs become the new data's classes (the old head is set aside).
 */
import { checkClasses } from '@forgetless/datasets';
import type { HeadChoice } from './config.js';

export interface ClassPlan {
  /** Names of the model's outputs after the head change. */
  classNames: string[];
  /** Folder class index → model output, per part. */
  oldMap: Int32Array;
  newMap: Int32Array;
  /** Output units the head needs (equal to the model's when keep). */
  units: number;
}

const list = (names: readonly string[]) => (names.length > 8 ? `${names.slice(0, 8).join(', ')}, ...` : names.join(', '));

/**
 * Plans the classes; throws a message naming the folders and the numbers when they cannot fit the
 * model. `oldWhere`/`newWhere` name the data for messages (e.g. `--old data/old`).
 */
export function planClasses(options: {
  head: HeadChoice;
  outputWidth: number;
  oldNames: readonly string[];
  newNames: readonly string[];
  modelClasses?: readonly string[];
  oldWhere: string;
  newWhere: string;
}): ClassPlan {
  const { head, outputWidth, oldNames, newNames, oldWhere, newWhere } = options;
  if (options.modelClasses && options.modelClasses.length !== outputWidth) {
    throw new Error(`--classes: ${options.modelClasses.length} class names, but the model outputs ${outputWidth} classes`);
  }
  if (!options.modelClasses && oldNames.length !== outputWidth) {
    throw new Error(
      `${oldWhere}: ${oldNames.length} class folders (${list(oldNames)}) but the model outputs ${outputWidth} classes; the old data needs one folder per output, in the model's order, or name the outputs with --classes <labels file>`,
    );
  }
  const model = options.modelClasses ? [...options.modelClasses] : [...oldNames];
  const unknown = oldNames.find((n) => !model.includes(n));
  if (unknown !== undefined) throw new Error(`${oldWhere}: class folder '${unknown}' is not one of the model's classes (${list(model)})`);
  const old = checkClasses(oldNames, outputWidth, 'keep', model, { source: oldWhere });
  const neu = checkClasses(newNames, outputWidth, head, model, { source: newWhere });
  return { classNames: neu.classNames, oldMap: old.labelMap, newMap: neu.labelMap, units: neu.outputWidth };
}
