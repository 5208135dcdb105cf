import { describe, expect, it } from 'vitest';
import { UserError } from './errors.js';
import { configFromFlags, parseLambdaSpec, parseSeeds } from './options.js';

const usageOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error('expected a usage error');
};

describe('run flags', () => {
  it('no flags: the default run', () => {
    const c = configFromFlags({});
    expect(c.name).toBe('default');
    expect(c.data.dataset).toBe('embedded');
    expect(c.variants.map((v) => v.method)).toEqual(['plain', 'ewc-mas', 'wva-sig']);
    expect(configFromFlags({ backend: 'cpu', out: 'x' } as never).name).toBe('default');
  });

  it('--head, and the head of each scenario of the three-scenarios preset', () => {
    const preset = { preset: 'three-scenarios', quick: true };
    expect(configFromFlags({ ...preset, scenario: 'task' }).head).toBe('multi');
    expect(configFromFlags({ ...preset, scenario: 'class' }).head).toBe('grow');
    expect(configFromFlags({ ...preset, scenario: 'domain' }).head).toBeUndefined();
    expect(configFromFlags({ ...preset, scenario: 'task', head: 'shared' }).head).toBe('shared');
    expect(configFromFlags({ sequence: 'split', scenario: 'class', head: 'grow' }).head).toBe('grow');
    expect(usageOf(() => configFromFlags({ head: 'wide' }))).toMatch(/--head: unknown value 'wide' \(expected shared, multi, grow\)/);
  });

  it('a preset with overrides on top', () => {
    const c = configFromFlags({ preset: 'paper2-fc', quick: true, seeds: '3,4', backend: 'cpu', lambda: ['ewc-mas=1,2'], tasks: '2', iterations: '5' });
    expect(c.name).toBe('paper2-fc');
    expect(c.optimizer).toBe('adam');
    expect(c.seeds).toEqual([3, 4]);
    expect(c.backend).toBe('cpu');
    expect(c.data.numTasks).toBe(2);
    expect(c.iterations).toBe(5);
    expect(c.epochs).toBeUndefined();
    expect(c.variants.find((v) => v.method === 'ewc-mas')?.lambdas).toEqual([1, 2]);
    expect(c.variants.find((v) => v.method === 'ewc-fis')?.lambdas).toEqual([41]);
    const full = configFromFlags({ preset: 'paper2-fc' });
    expect(full.seeds).toHaveLength(20);
    expect(full.variants.find((v) => v.method === 'ewc-fis')?.lambdas).toEqual([20.5, 41, 82]);
  });

  it('methods with modifiers, default λ, and a λ for all', () => {
    const c = configFromFlags({ methods: 'plain,ewc-sig:half,wva-sig:exp:steps@adam', lambda: ['0.5,5'] });
    expect(c.name).toBe('custom');
    expect(c.variants).toEqual([
      { method: 'plain', lambdas: [0] },
      { method: 'ewc-sig', convention: 'half-lambda', lambdas: [0.5, 5] },
      { method: 'wva-sig', attenuation: 'exponential', applyTo: 'steps', optimizer: 'adam', lambdas: [0.5, 5] },
    ]);
    expect(configFromFlags({ methods: 'ewc-mas' }).variants[0]?.lambdas).toEqual([4.5]);
    expect(configFromFlags({ optimizer: 'adam' }).learningRate).toBe(1e-3);
  });

  it('bad values are one-line usage errors naming the flag', () => {
    expect(usageOf(() => configFromFlags({ lambda: ['-1'] }))).toBe('--lambda: λ must be ≥ 0, got -1');
    expect(usageOf(() => configFromFlags({ lambda: ['ewc-fis=abc'] }))).toMatch(/--lambda: 'abc' is not a number/);
    expect(usageOf(() => configFromFlags({ lambda: ['ewc-fis=3'] }))).toMatch(/'ewc-fis' is not among the methods run \(plain, ewc-mas, wva-sig\)/);
    expect(usageOf(() => configFromFlags({ preset: 'paper9' }))).toMatch(/--preset: unknown preset 'paper9' \(known: paper1, /);
    expect(usageOf(() => configFromFlags({ epochs: '2', iterations: '3' }))).toMatch(/exclude each other/);
    expect(usageOf(() => configFromFlags({ tasks: '0' }))).toBe("--tasks: expected a positive integer, got '0'");
    expect(usageOf(() => configFromFlags({ lr: 'fast' }))).toBe("--lr: expected a positive number, got 'fast'");
    expect(usageOf(() => configFromFlags({ evaluateEvery: '0' }))).toBe("--evaluate-every: expected a positive integer, got '0'");
    expect(configFromFlags({ evaluateEvery: '50' }).evaluateEvery).toBe(50);
    expect(usageOf(() => parseSeeds('1,x'))).toBe("--seeds: 'x' is not a whole number ≥ 0");
    expect(() => configFromFlags({ methods: 'ewc-xyz' })).toThrow(/unknown method 'ewc-xyz'/);
    expect(parseLambdaSpec('wva-sig:exp=1,2')).toEqual({ target: 'wva-sig:exp', lambdas: [1, 2] });
    expect(usageOf(() => configFromFlags({ dataset: 'mnist,fashion-mnist' }))).toMatch(/make a queue: add --sequence queue/);
    expect(configFromFlags({ dataset: 'mnist,fashion-mnist', sequence: 'queue' }).data).toMatchObject({
      dataset: 'mnist',
      datasets: ['mnist', 'fashion-mnist'],
      sequence: 'queue',
    });
  });
});
