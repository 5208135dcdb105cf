/**
 * The classes of new data against a pretrained model's output: whether the data fits the model's head
 * as it is, or the head grows or is replaced, and which model output each data label becomes.
 */

/**
 * - `'keep'`: the model's head is unchanged; the data's classes are the model's (or a subset of them,
 *   by name, when the model's class names are known).
 * - `'extend'`: new classes are appended after the model's existing outputs.
 * - `'replace'`: a new head whose classes are exactly the data's.
 */
export type HeadChange = 'keep' | 'extend' | 'replace';

export const HEAD_CHANGES: readonly HeadChange[] = ['keep', 'extend', 'replace'];

export interface ClassCheck {
  /** The model's classes after the head change: output k is class classNames[k]. */
  classNames: string[];
  /** The model's output width after the head change (classNames.length). */
  outputWidth: number;
  /** Data label i (an index into the data's class names) trains model output labelMap[i]. */
  labelMap: Int32Array;
  /** When labelMap[i] = i + labelOffset for every i, that offset (0 for keep and replace); else -1. */
  labelOffset: number;
  /** The data's classes the model did not have before (appended by 'extend'; all of them for 'replace'). */
  added: string[];
}

export interface CheckClassesOptions {
  /** Names the data in errors, e.g. '--new data/new' or the folder; default 'the data'. */
  source?: string;
}

/**
 * Checks the data's class names (e.g. its folder names) against a model whose output has
 * `outputWidth` classes, for a head change, and maps data labels to model outputs. `previous` are the
 * model's class names, when known (they must be `outputWidth` names):
 *
 * - keep: without `previous`, the data must have exactly `outputWidth` classes (label i → output i);
 *   with `previous`, every data class must be one of them (a subset, any order), mapped by name.
 * - extend: data classes already among `previous` map to their output; the others are appended, in
 *   the data's order, after the `outputWidth` existing outputs. Without `previous` every data class is
 *   new, and the existing outputs are named 'class 0', 'class 1', ... in `classNames`.
 * - replace: the model's classes become exactly the data's (label i → output i), whatever `outputWidth`.
 *
 * Throws an error naming the data (`source`), both counts and the classes, e.g.
 * `data/new: 7 class folders (a, b, c, d, e, f, g) but the model outputs 5 classes; use --head extend or replace`.
 */
export function checkClasses(classNames: readonly string[], outputWidth: number, head: HeadChange, previous?: readonly string[], options: CheckClassesOptions = {}): ClassCheck {
  const source = options.source ?? 'the data';
  const list = (names: readonly string[]) => (names.length > 8 ? `${names.slice(0, 8).join(', ')}, ... (${names.length - 8} more)` : names.join(', '));
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 'es'}`;
  if (!HEAD_CHANGES.includes(head)) throw new Error(`checkClasses: head must be one of ${HEAD_CHANGES.join(', ')}, got '${head as string}'`);
  if (!Number.isInteger(outputWidth) || outputWidth < 1) throw new Error(`checkClasses: the model's output width must be a positive integer, got ${outputWidth}`);
  if (classNames.length === 0) throw new Error(`${source}: no classes`);
  const dup = (names: readonly string[]) => names.find((n, i) => names.indexOf(n) !== i);
  const d = dup(classNames);
  if (d !== undefined) throw new Error(`${source}: class '${d}' appears twice`);
  if (previous) {
    if (previous.length !== outputWidth) {
      throw new Error(`the model's class names (${previous.length}: ${list(previous)}) do not match its output width ${outputWidth}`);
    }
    const pd = dup(previous);
    if (pd !== undefined) throw new Error(`the model's class names list '${pd}' twice`);
  }
  const done = (names: string[], labelMap: Int32Array, added: string[]): ClassCheck => {
    const off = labelMap[0] ?? 0;
    const contiguous = labelMap.every((m, i) => m === i + off);
    return { classNames: names, outputWidth: names.length, labelMap, labelOffset: contiguous ? off : -1, added };
  };
  const identity = () => Int32Array.from(classNames, (_, i) => i);
  const folders = `${classNames.length} class folder${classNames.length === 1 ? '' : 's'} (${list(classNames)})`;
  if (head === 'replace') return done([...classNames], identity(), [...classNames]);
  if (head === 'keep') {
    if (!previous) {
      if (classNames.length !== outputWidth) {
        throw new Error(`${source}: ${folders} but the model outputs ${plural(outputWidth, 'class')}; use --head extend or replace`);
      }
      return done([...classNames], identity(), []);
    }
    const unknown = classNames.filter((n) => !previous.includes(n));
    if (unknown.length) {
      throw new Error(
        `${source}: class${unknown.length === 1 ? '' : 'es'} ${list(unknown)} ${unknown.length === 1 ? 'is' : 'are'} not among the model's ${plural(outputWidth, 'class')} (${list(previous)}); use --head extend or replace`,
      );
    }
    return done(
      [...previous],
      Int32Array.from(classNames, (n) => previous.indexOf(n)),
      [],
    );
  }
  // extend
  const before = previous ? [...previous] : Array.from({ length: outputWidth }, (_, i) => `class ${i}`);
  const names = [...before];
  const added: string[] = [];
  const labelMap = Int32Array.from(classNames, (n) => {
    const at = previous ? previous.indexOf(n) : -1;
    if (at >= 0) return at;
    added.push(n);
    names.push(n);
    return names.length - 1;
  });
  return done(names, labelMap, added);
}
