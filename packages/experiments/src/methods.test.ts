import { describe, expect, it } from 'vitest';
import { METHOD_NAMES, MethodError, createPlugins, parseVariant, variantLabel } from './methods.js';

describe('method registry', () => {
  it('has plain, l2 and every family × importance', () => {
    for (const m of ['plain', 'l2', 'ewc-fis', 'ewc-mas', 'ewc-si', 'ewc-sig', 'sewc-fis', 'sewc-mas', 'sewc-si', 'sewc-sig', 'wva-sig', 'wva-fis', 'wva-mas', 'wva-si']) {
      expect(METHOD_NAMES).toContain(m);
    }
  });

  it('parses modifiers and the optimizer override, and labels round-trip', () => {
    expect(parseVariant('wva-sig:exp:steps@adam')).toEqual({ method: 'wva-sig', attenuation: 'exponential', applyTo: 'steps', optimizer: 'adam' });
    expect(parseVariant('ewc-fis:half')).toEqual({ method: 'ewc-fis', convention: 'half-lambda' });
    expect(parseVariant('WVA-FIS:hyperbolic:grads')).toEqual({ method: 'wva-fis', attenuation: 'hyperbolic', applyTo: 'gradients' });
    for (const s of ['plain', 'ewc-sig:half', 'wva-sig:exp:grads@sgd', 'wva-mas:steps@adam', 'sewc-si']) expect(variantLabel(parseVariant(s))).toBe(s);
  });

  it('refuses unknown methods, modifiers and optimizers with the name at fault', () => {
    expect(() => parseVariant('ewc-foo')).toThrow(MethodError);
    expect(() => parseVariant('ewc-foo')).toThrow(/unknown method 'ewc-foo' \(known: plain, l2, /);
    expect(() => parseVariant('ewc-fis:steps')).toThrow(/unknown modifier 'steps' for ewc-fis/);
    expect(() => parseVariant('wva-sig@rmsprop')).toThrow(/unknown optimizer 'rmsprop'/);
  });

  it('makes one plugin per consolidating method, none for plain', () => {
    const ctx = { learningRate: 0.1, importanceLimit: 100 };
    expect(createPlugins({ method: 'plain' }, 0, ctx)).toEqual([]);
    const names = ['l2', 'ewc-fis', 'sewc-mas', 'wva-sig'].map((m) => {
      const [p, ...rest] = createPlugins({ method: m }, 2, ctx);
      expect(rest).toHaveLength(0);
      const name = p?.name;
      p?.dispose?.();
      return name;
    });
    expect(names).toEqual(['l2', 'ewc', 'stabilized-ewc', 'wva:sig']);
  });
});
