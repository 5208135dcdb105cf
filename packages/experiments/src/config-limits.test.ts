// What a config may ask for is capped at validation, before any data is built: `--tasks 1000000` grew
// past 5 GB before the first task trained. Each refusal names the option, the limit, and how to raise it.
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_LIMITS, type ExperimentConfig, validateConfig } from './config.js';
import { PRESETS, defaultConfig } from './presets.js';

const base = (): ExperimentConfig => ({ ...defaultConfig(), data: { ...defaultConfig().data } });
const noEnv = { env: {} };

function errorOf(c: ExperimentConfig, options = noEnv): ConfigError {
  try {
    validateConfig(c, options);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('limits on what a config may ask for', () => {
  it('refuses --tasks 1000000 at validation, at once, giving the limit and how to raise it', () => {
    const c = base();
    c.data.numTasks = 1_000_000;
    const rss = process.memoryUsage.rss();
    const t0 = performance.now();
    const e = errorOf(c);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(process.memoryUsage.rss() - rss).toBeLessThan(50 * 2 ** 20);
    expect(e.option).toBe('tasks');
    expect(e.message).toBe(
      `option 'tasks': 1000000 tasks is more than the limit of ${DEFAULT_LIMITS.tasks} (each task keeps its data in memory and is evaluated after every later one); to allow it, set FORGETLESS_LIMITS=tasks=1000000 in the environment, or limits: { tasks: 1000000 } in the config`,
    );
  });

  it('caps runs, kept accuracies, epochs, iterations, steps per task, batch size and evaluation points', () => {
    const seeds = (n: number) => Array.from({ length: n }, (_, i) => i);
    const cases: [(c: ExperimentConfig) => void, string, RegExp][] = [
      [(c) => (c.data.angles = seeds(5000)), 'angles', /5000 angles \(tasks\) is more than the limit of 1000/],
      [(c) => (c.seeds = seeds(2000)), 'seeds', /6000 runs \(3 method × λ combinations × 2000 seeds\) is more than the limit of 1000 .*FORGETLESS_LIMITS=runs=6000/],
      [
        (c) => (c.variants = [{ method: 'ewc-mas', lambdas: seeds(3000).map((i) => i + 1) }]),
        'lambda',
        /9000 runs \(3000 method × λ combinations × 3 seeds\) is more than the limit of 1000/,
      ],
      [
        (c) => {
          c.data.numTasks = 1000;
          c.seeds = seeds(20);
        },
        'tasks',
        /1000 tasks × 60 runs keep 60000000 accuracies \(runs × tasks²\), more than the limit of 10000000 .*FORGETLESS_LIMITS=results=60000000/,
      ],
      [(c) => (c.epochs = 1e6), 'epochs', /1000000 epochs per task is more than the limit of 1000/],
      [
        (c) => {
          c.iterations = 1e9;
          delete c.epochs;
        },
        'iterations',
        /1000000000 iterations per task is more than the limit of 10000000/,
      ],
      [
        (c) => {
          c.epochs = 1000;
          c.batchSize = 1;
        },
        'epochs',
        /about 60000000 steps per task \(1000 epochs × 60000 examples \/ batch size 1\) is more than the limit of 10000000/,
      ],
      [(c) => (c.batchSize = 1e9), 'batch-size', /1000000000 examples per batch is more than the limit of 65536/],
      [
        (c) => {
          c.evaluateEvery = 1;
          c.epochs = 1000;
        },
        'evaluate-every',
        /evaluating every 1 steps records about \d+ accuracies .* more than the limit of 10000000/,
      ],
    ];
    for (const [change, option, message] of cases) {
      const c = base();
      change(c);
      const e = errorOf(c);
      expect(e.option, message.source).toBe(option);
      expect(e.message).toMatch(message);
    }
  });

  it('raises a limit from the config or from FORGETLESS_LIMITS', () => {
    // one run of 2000 tasks: 4 000 000 accuracies, within the results limit
    const c = { ...base(), seeds: [0], variants: [{ method: 'plain', lambdas: [0] }] };
    c.data.numTasks = 2000;
    expect(errorOf(c).message).toMatch(/^option 'tasks': 2000 tasks is more than the limit of 1000/);
    expect(() => validateConfig({ ...c, limits: { tasks: 2000 } }, noEnv)).not.toThrow();
    expect(() => validateConfig(c, { env: { FORGETLESS_LIMITS: 'tasks=2000' } })).not.toThrow();
    expect(() => validateConfig(c, { env: { FORGETLESS_LIMITS: 'tasks=1999, runs=5' } })).toThrow(/limit of 1999/);
    const bad = errorOf(c, { env: { FORGETLESS_LIMITS: 'taks=5000' } });
    expect(bad.option).toBe('limits');
    expect(bad.message).toMatch(/FORGETLESS_LIMITS: unknown limit 'taks' \(known: tasks, runs, results, epochs, iterations, steps, batchSize\)/);
    expect(errorOf({ ...c, limits: { tasks: -1 } }).message).toMatch(/option 'limits': limits\.tasks must be a positive integer, got -1/);
  });

  it('every preset, full and quick, and the default run are within the default limits', () => {
    expect(() => validateConfig(base(), noEnv)).not.toThrow();
    for (const p of Object.values(PRESETS)) {
      for (const quick of [false, true]) if (p.config) expect(() => validateConfig(p.config?.({ quick }) as ExperimentConfig, noEnv), `${p.name} quick=${quick}`).not.toThrow();
    }
  });
});
