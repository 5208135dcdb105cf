import { describe, expect, it } from 'vitest';
import { checkClasses } from './classes.js';

describe('checkClasses', () => {
  it('keep: the folders must match the model width, or be among its named classes', () => {
    const k = checkClasses(['a', 'b', 'c'], 3, 'keep');
    expect(k).toEqual({ classNames: ['a', 'b', 'c'], outputWidth: 3, labelMap: Int32Array.from([0, 1, 2]), labelOffset: 0, added: [] });
    expect(() => checkClasses(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 5, 'keep', undefined, { source: '--new data/new' })).toThrow(
      '--new data/new: 7 class folders (a, b, c, d, e, f, g) but the model outputs 5 classes; use --head extend or replace',
    );
    const sub = checkClasses(['dog', 'ant'], 3, 'keep', ['ant', 'cat', 'dog']);
    expect(sub.classNames).toEqual(['ant', 'cat', 'dog']);
    expect(Array.from(sub.labelMap)).toEqual([2, 0]);
    expect(sub.labelOffset).toBe(-1);
    expect(() => checkClasses(['ant', 'emu'], 3, 'keep', ['ant', 'cat', 'dog'], { source: 'zoo' })).toThrow(
      "zoo: class emu is not among the model's 3 classes (ant, cat, dog); use --head extend or replace",
    );
    expect(() => checkClasses(['a'], 3, 'keep', ['a', 'b'])).toThrow(/class names \(2: a, b\) do not match its output width 3/);
  });

  it('extend appends new classes after the existing outputs (shared names map to theirs); replace takes the folders', () => {
    const e = checkClasses(['x', 'y'], 5, 'extend');
    expect(e.classNames).toEqual(['class 0', 'class 1', 'class 2', 'class 3', 'class 4', 'x', 'y']);
    expect([e.outputWidth, e.labelOffset, Array.from(e.labelMap), e.added]).toEqual([7, 5, [5, 6], ['x', 'y']]);
    const shared = checkClasses(['cat', 'emu', 'ant'], 3, 'extend', ['ant', 'cat', 'dog']);
    expect(shared.classNames).toEqual(['ant', 'cat', 'dog', 'emu']);
    expect(Array.from(shared.labelMap)).toEqual([1, 3, 0]);
    expect(shared.added).toEqual(['emu']);
    const r = checkClasses(['p', 'q'], 10, 'replace');
    expect([r.classNames, r.outputWidth, r.labelOffset]).toEqual([['p', 'q'], 2, 0]);
  });

  it('refuses duplicate, empty and malformed input', () => {
    expect(() => checkClasses([], 2, 'keep')).toThrow(/no classes/);
    expect(() => checkClasses(['a', 'a'], 2, 'keep')).toThrow(/class 'a' appears twice/);
    expect(() => checkClasses(['a'], 0, 'keep')).toThrow(/output width must be a positive integer/);
    expect(() => checkClasses(['a'], 1, 'grow' as 'keep')).toThrow(/head must be one of keep, extend, replace/);
  });
});
