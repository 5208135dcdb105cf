import { forwardTransfer, syntheticPermutedTasks } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { scenariosTable } from './scenarios.js';
import { ConfigError, validateConfig } from '@forgetless/experiments';
import { MethodError, createPlugins, hasLambda, parseVariant, variantLabel } from '@forgetless/experiments';
import { PRESETS } from '@forgetless/experiments';
import { runExperiment } from '@forgetless/experiments';
import { stat, summarize } from '@forgetless/experiments';

describe('scenario methods', () => {
  it('parses lwf, replay-<n>, +replay-<n>, packnet, joint and EWC modes; labels round-trip', () => {
    expect(parseVariant('replay-100')).toEqual({ method: 'replay-100', replay: { budget: 100 } });
    expect(parseVariant('replay-200:herding')).toEqual({ method: 'replay-200', replay: { budget: 200, selection: 'herding' } });
    expect(parseVariant('ewc-fis:decay+replay-1000:balanced')).toEqual({ method: 'ewc-fis', mode: 'decay', replay: { budget: 1000, selection: 'class-balanced' } });
    for (const s of ['lwf', 'packnet', 'joint', 'replay-100', 'replay-50:balanced', 'ewc-fis:separate', 'ewc-fis:decay+replay-1000', 'lwf+replay-100:herding@adam']) {
      expect(variantLabel(parseVariant(s))).toBe(s);
    }
    expect(() => parseVariant('joint+replay-10')).toThrow(MethodError);
    expect(() => parseVariant('replay-0')).toThrow(/unknown method/);
    expect(() => parseVariant('plain+replay-x')).toThrow(/not a replay memory/);
    expect(() => parseVariant('replay-10:fancy')).toThrow(/allowed: reservoir, balanced, herding/);
    expect([hasLambda('lwf'), hasLambda('replay-10'), hasLambda('packnet'), hasLambda('joint')]).toEqual([true, false, false, false]);
  });

  it('builds the plugins: replay first, then the method', () => {
    const ctx = { learningRate: 0.1, importanceLimit: 10, seed: 1 };
    expect(createPlugins(parseVariant('ewc-fis+replay-10'), 5, ctx).map((p) => p.name)).toEqual(['replay', 'ewc']);
    expect(createPlugins(parseVariant('replay-10'), 0, ctx).map((p) => p.name)).toEqual(['replay']);
    expect(createPlugins({ method: 'replay-10' }, 0, ctx).map((p) => p.name)).toEqual(['replay']);
    expect(createPlugins(parseVariant('lwf'), 1, ctx).map((p) => p.name)).toEqual(['lwf']);
    expect(createPlugins(parseVariant('packnet'), 0, ctx).map((p) => p.name)).toEqual(['packnet']);
    expect(createPlugins(parseVariant('joint'), 0, ctx)).toEqual([]);
    for (const p of createPlugins(parseVariant('ewc-fis:separate+replay-10'), 5, ctx)) p.dispose?.();
  });

  it('validates the scenario, and the three-scenarios preset (quick and full) is a valid config', () => {
    const base = PRESETS['three-scenarios'].config?.({ quick: true });
    if (!base) throw new Error('no config');
    expect(validateConfig(base).variants.length).toBe(12);
    expect(validateConfig(PRESETS['three-scenarios'].config?.({ quick: false }) as typeof base).seeds).toEqual([0, 1, 2]);
    expect(() => validateConfig({ ...base, data: { ...base.data, scenario: 'multi' as 'task' } })).toThrow(ConfigError);
    expect(() => validateConfig({ ...base, data: { ...base.data, sequence: 'rotated', scenario: 'class' } })).toThrow(/domain-incremental only/);
    expect(() => validateConfig({ ...base, variants: [{ method: 'wva-sig', mode: 'decay', lambdas: [1] }] })).toThrow(/EWC option/);
    expect(base.evaluateOn).toBe('all');
    expect(PRESETS['three-scenarios'].heads).toEqual({ task: 'multi', class: 'grow' });
    expect(validateConfig({ ...base, head: 'multi' }).head).toBe('multi');
    expect(() => validateConfig({ ...base, head: 'grow' })).toThrow(/head.*needs the class-incremental scenario/);
    expect(() => validateConfig({ ...base, data: { ...base.data, scenario: 'domain' }, head: 'multi' })).toThrow(/needs the task-incremental scenario.*got domain/);
    expect(() => validateConfig({ ...base, head: 'wide' as 'multi' })).toThrow(/expected shared, multi, grow/);
  });

  it('the scenarios table sets each method beside itself in every scenario', () => {
    const s = (variant: string, mean: number) => {
      const st = stat([mean, mean]);
      const best = {
        variant,
        method: variant,
        lambda: 0,
        seeds: [0, 1],
        curve: [st],
        final: st,
        forgetting: st,
        bwt: st,
        matrix: [[mean]],
        diverged: 0,
        seconds: 1,
        trainSecondsPerTask: 1,
      };
      return { variant, method: variant, lambdas: [best], best };
    };
    const table = scenariosTable([
      { scenario: 'task', summaries: [s('plain', 0.9), s('joint', 0.99)] },
      { scenario: 'class', summaries: [s('plain', 0.2)] },
    ]);
    expect(table.split('\n')[0]).toBe('| method | task-incremental | class-incremental | forgetting (task) | forgetting (class) | BWT (task) | BWT (class) |');
    expect(table).toContain('| plain | 0.900 ± 0.000 | 0.200 ± 0.000 |');
    expect(table).toContain('| joint | 0.990 ± 0.000 | — |');
  });
});

describe('evaluateOn all', () => {
  it('records the baseline and forward transfer per run, and FWT in the summary', async () => {
    const tasks = syntheticPermutedTasks({ numTasks: 2, features: 16, numClasses: 4, trainPerClass: 20, testPerClass: 10, seed: 1 });
    const result = await runExperiment(
      {
        name: 't',
        data: { dataset: 'synthetic', sequence: 'permuted', numTasks: 2 },
        model: '16-8-4',
        optimizer: 'sgd',
        learningRate: 0.1,
        iterations: 3,
        batchSize: 20,
        seeds: [0],
        variants: [{ method: 'plain', lambdas: [0] }],
        importanceLimit: 10,
        backend: 'cpu',
        evaluateOn: 'all',
      },
      { tasks },
    );
    const r = result.runs[0];
    expect(r?.baseline).toHaveLength(2);
    expect(r?.fwt).toBe(forwardTransfer(r?.accuracy ?? [], r?.baseline ?? []));
    expect(summarize(result)[0]?.best.fwt?.mean).toBe(r?.fwt);
  });
});
