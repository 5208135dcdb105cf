import { describe, expect, it } from 'vitest';
import { ConfigError, type ExperimentConfig, runKeys, validateConfig } from './config.js';
import { PRESETS, defaultConfig } from './presets.js';

const base = (): ExperimentConfig => ({ ...defaultConfig(), data: { ...defaultConfig().data } });

function errorOf(c: ExperimentConfig): ConfigError {
  try {
    validateConfig(c);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('validateConfig', () => {
  it('accepts the default run and every preset, full and quick', () => {
    expect(validateConfig(base()).variants.map((v) => v.method)).toEqual(['plain', 'ewc-mas', 'wva-sig']);
    for (const p of Object.values(PRESETS)) {
      if (!p.config) continue;
      for (const quick of [false, true]) expect(() => validateConfig(p.config?.({ quick }) as ExperimentConfig), `${p.name} quick=${quick}`).not.toThrow();
    }
  });

  it('names the option and the value at fault', () => {
    const cases: [Partial<ExperimentConfig> | ((c: ExperimentConfig) => void), string, RegExp][] = [
      [{ variants: [{ method: 'ewc-nope', lambdas: [1] }] }, 'methods', /unknown method 'ewc-nope'/],
      [{ variants: [{ method: 'ewc-fis', lambdas: [-1] }] }, 'lambda', /λ must be a finite number ≥ 0, got -1/],
      [{ variants: [{ method: 'ewc-fis', lambdas: [] }] }, 'lambda', /at least one λ/],
      [{ model: '784-x-10' }, 'model', /model spec '784-x-10'/],
      [{ model: '784-100-10:swish' }, 'model', /unknown option 'swish'/],
      [{ learningRate: 0 }, 'lr', /positive number, got 0/],
      [{ batchSize: 2.5 }, 'batch-size', /positive integer, got 2.5/],
      [{ seeds: [] }, 'seeds', /at least one/],
      [{ evaluateEvery: 0 }, 'evaluate-every', /positive integer, got 0/],
      [{ evaluateEvery: 2.5 }, 'evaluate-every', /positive integer, got 2.5/],
      [{ backend: 'webgpu' as never }, 'backend', /unknown backend 'webgpu'/],
      [(c) => (c.data.sequence = 'shuffled' as never), 'sequence', /unknown sequence 'shuffled'/],
      [(c) => (c.data.numTasks = 0), 'tasks', /positive integer, got 0/],
      [{ variants: [{ method: 'ewc-fis', attenuation: 'exponential', lambdas: [1] }] }, 'methods[0]', /WVA options/],
    ];
    for (const [change, option, message] of cases) {
      const c = base();
      if (typeof change === 'function') change(c);
      else Object.assign(c, change);
      const e = errorOf(c);
      expect(e.option, message.source).toBe(option);
      expect(e.message).toMatch(message);
      expect(e.message.startsWith(`option '${option}': `)).toBe(true);
    }
  });

  it('normalises: plain gets λ 0, grids and seeds lose duplicates; runs are variants × λ × seeds', () => {
    const c = validateConfig({
      ...base(),
      seeds: [1, 1, 2],
      variants: [
        { method: 'plain', lambdas: [] },
        { method: 'ewc-mas', lambdas: [1, 3, 1] },
      ],
    });
    expect(c.variants.map((v) => v.lambdas)).toEqual([[0], [1, 3]]);
    expect(c.seeds).toEqual([1, 2]);
    expect(runKeys(c)).toEqual([
      { variant: 0, lambda: 0, seed: 1 },
      { variant: 0, lambda: 0, seed: 2 },
      { variant: 1, lambda: 1, seed: 1 },
      { variant: 1, lambda: 1, seed: 2 },
      { variant: 1, lambda: 3, seed: 1 },
      { variant: 1, lambda: 3, seed: 2 },
    ]);
  });
});
