/**
 * The default run and the presets that reproduce the papers' experiments (protocols and published
 * numbers in docs/methods.md). Each preset has its full protocol and a `quick` scale-down (fewer tasks,
 * steps, seeds and closing-set samples) that shows the same shape in minutes.
 *
 * The papers measured MNIST; a preset's dataset `auto` means MNIST where the user has it, else
 * Fashion-MNIST (Debian's full set here, else the embedded subset): compare shapes, not digits.
 *
 * Browser-safe: no node:* imports.
 */
import type { ExperimentConfig, HeadChoice, Scenario, VariantConfig } from './config.js';

export type PresetName = 'paper1' | 'paper2-fc' | 'paper2-conv' | 'paper3' | 'paper4' | 'pruning' | 'three-scenarios';
export const PRESET_NAMES: readonly PresetName[] = ['paper1', 'paper2-fc', 'paper2-conv', 'paper3', 'paper4', 'pruning', 'three-scenarios'];

/** A published row of a scenario table: accuracy (%) after the last task per scenario, ± SEM; undefined where not reported. */
export interface PublishedScenarioRow {
  /** The method as the paper names it. */
  method: string;
  /** The variant of this preset that corresponds, if any. */
  variant?: string;
  task?: string;
  domain?: string;
  class?: string;
}

/** A published number beside which the report sets the measured one. */
export interface PublishedNumber {
  /** The variant label as the config names it (`ewc-fis`, `wva-sig:grads@sgd`, ...). */
  variant: string;
  lambda?: number;
  /** Mean accuracy after the last task (paper 3: a correlation). */
  value: number;
}

/** Paper 3's published correlation claims, per pair: a bound on Pearson's r, per layer position. */
export interface PublishedCorrelation {
  pair: string;
  claim: string;
  /** Lower bound on the mean correlation over layers, when the paper states one. */
  atLeast?: number;
}

export interface Preset {
  name: PresetName;
  title: string;
  /** arXiv id of the paper. */
  paper: string;
  kind: 'continual' | 'correlations' | 'pruning' | 'scenarios';
  /** Scenario presets: the scenarios run, one experiment each (`--scenario` picks one). */
  scenarios?: readonly Scenario[];
  /** Scenario presets: the output head of each scenario's run (`--head` overrides). */
  heads?: Partial<Record<Scenario, HeadChoice>>;
  /** Scenario presets: the published table. */
  publishedScenarios?: readonly PublishedScenarioRow[];
  /** The protocol in a sentence, as docs/methods.md states it. */
  protocol: string;
  /** What the published numbers measure ("accuracy after task 10, MNIST"). */
  publishedMetric: string;
  published: PublishedNumber[];
  correlations?: PublishedCorrelation[];
  /** The experiment (not for `pruning`, which has its own runner). */
  config?: (options: { quick: boolean }) => ExperimentConfig;
}

const MLP_RELU = '784-300-150-10:relu:paper';
const MLP_LRELU = '784-300-150-10:leakyrelu';
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** λ grid around a published best (full runs), or the best alone (quick). */
function grid(best: number, quick: boolean): number[] {
  return quick ? [best] : [best / 2, best, best * 2];
}

function variants(list: [string, number | undefined][], quick: boolean, extra: Partial<VariantConfig> = {}): VariantConfig[] {
  return list.map(([label, best]) => {
    const [method = '', ...mods] = label.split(':');
    const v: VariantConfig = { method, lambdas: best === undefined ? [0] : grid(best, quick), ...extra };
    if (mods.includes('half')) v.convention = 'half-lambda';
    return v;
  });
}

/**
 * The run of `forgetless` with no arguments: small, on the embedded subset, a few minutes on 2 cores.
 * 5 permuted tasks, MLP 784-100-10, SGD lr 0.1, 3 epochs per task, 3 seeds; plain against EWC with
 * MAS importances (λ 3) and WVA with SIG importances (hyperbolic, λ 30). The λ values are the best of
 * small grids on this data (EWC-MAS 1, 3; WVA-SIG 30, 100, 300): with SGD at lr 0.1, EWC with
 * Fisher importances diverges from λ ≈ 20 (paper 2's instability), which the stabilised form avoids.
 */
export function defaultConfig(): ExperimentConfig {
  return {
    name: 'default',
    data: { dataset: 'embedded', sequence: 'permuted', numTasks: 5, seed: 0 },
    model: '784-100-10',
    optimizer: 'sgd',
    learningRate: 0.1,
    epochs: 3,
    batchSize: 100,
    seeds: [0, 1, 2],
    variants: [
      { method: 'plain', lambdas: [0] },
      { method: 'ewc-mas', lambdas: [3] },
      { method: 'wva-sig', lambdas: [30] },
    ],
    importanceLimit: 5000, // at most: the closing set (833 images on the embedded subset, 5000 on full Fashion-MNIST)
    backend: 'wasm',
  };
}

const paper1: Preset = {
  name: 'paper1',
  title: 'Paper 1: SIG importances and WVA against EWC (SGD, ReLU MLP)',
  paper: '2005.07107',
  kind: 'continual',
  protocol: '10 permuted tasks, MLP 784-300-150-10 ReLU, init normal(0, 2/√fan_in), SGD lr 0.1, batch 100, 2000 iterations per task, 10 repeats; EWC with c = λ/2·I.',
  publishedMetric: 'mean accuracy after task 10 (permuted MNIST)',
  published: [
    { variant: 'plain', value: 0.743 },
    { variant: 'ewc-sig:half', lambda: 1, value: 0.91 },
    { variant: 'ewc-fis:half', lambda: 14, value: 0.923 },
    { variant: 'wva-sig', lambda: 250, value: 0.89 },
    { variant: 'wva-fis', lambda: 5250, value: 0.905 },
  ],
  config: ({ quick }) => ({
    name: 'paper1',
    data: { dataset: 'auto', sequence: 'permuted', numTasks: quick ? 3 : 10, seed: 0 },
    model: MLP_RELU,
    optimizer: 'sgd',
    learningRate: 0.1,
    iterations: quick ? 300 : 2000,
    batchSize: 100,
    seeds: quick ? [0] : range(10),
    variants: variants(
      [
        ['plain', undefined],
        ['ewc-sig:half', 1],
        ['ewc-fis:half', 14],
        ['wva-sig', 250],
        ['wva-fis', 5250],
      ],
      true, // paper 1 reports one λ per method
    ),
    importanceLimit: quick ? 1000 : 5000,
    ...(quick ? { evalLimit: 2000 } : {}),
    backend: 'wasm',
  }),
};

const PAPER2_FC: [string, number | undefined][] = [
  ['plain', undefined],
  ['ewc-fis', 41],
  ['ewc-mas', 4.5],
  ['ewc-si', 0.25],
  ['ewc-sig', 0.1],
  ['sewc-fis', 85],
  ['sewc-mas', 8.5],
  ['sewc-si', 0.64],
];

const paper2fc: Preset = {
  name: 'paper2-fc',
  title: 'Paper 2: EWC and stabilised EWC with FIS, MAS, SI, SIG (Adam, leaky-ReLU MLP)',
  paper: '2109.10021',
  kind: 'continual',
  protocol: '10 permuted tasks, MLP 784-300-150-10 leaky ReLU 0.01, Adam lr 1e-3, batch 100, 6 epochs per task, closing set = the last 5000 training samples, 20 runs per λ.',
  publishedMetric: 'mean accuracy after task 10 at the best λ (permuted MNIST)',
  published: [
    { variant: 'plain', value: 0.469 },
    { variant: 'ewc-fis', lambda: 41, value: 0.9505 },
    { variant: 'ewc-mas', lambda: 4.5, value: 0.9553 },
    { variant: 'ewc-si', lambda: 0.25, value: 0.9432 },
    { variant: 'ewc-sig', lambda: 0.1, value: 0.929 },
    { variant: 'sewc-fis', lambda: 85, value: 0.951 },
    { variant: 'sewc-mas', lambda: 8.5, value: 0.9554 },
    { variant: 'sewc-si', lambda: 0.64, value: 0.9422 },
  ],
  config: ({ quick }) => ({
    name: 'paper2-fc',
    data: { dataset: 'auto', sequence: 'permuted', numTasks: quick ? 3 : 10, seed: 0, validation: 5000, ...(quick ? { trainLimit: 10000 } : {}) },
    model: MLP_LRELU,
    optimizer: 'adam',
    learningRate: 1e-3,
    epochs: quick ? 1 : 6,
    batchSize: 100,
    seeds: quick ? [0] : range(20),
    variants: variants(PAPER2_FC, quick),
    importanceLimit: quick ? 1000 : 5000,
    ...(quick ? { evalLimit: 2000 } : {}),
    backend: 'wasm',
  }),
};

const paper2conv: Preset = {
  name: 'paper2-conv',
  title: 'Paper 2: the conv queue (MNIST → Fashion-MNIST → both rotated 90°)',
  paper: '2109.10021',
  kind: 'continual',
  protocol:
    'Tasks MNIST → Fashion-MNIST → MNIST rot 90° → Fashion-MNIST rot 90°; Conv(64,k5)-BN-lrelu-maxpool2 → Conv(128,k3)-BN-lrelu → Conv(256,k3)-BN-lrelu → Dense(10); Adam lr 1e-3, batch 100.',
  publishedMetric: 'accuracy after task 4 at the best λ (MNIST and Fashion-MNIST queue)',
  published: [
    { variant: 'plain', value: 0.31 },
    { variant: 'ewc-fis', lambda: 675, value: 0.585 },
    { variant: 'ewc-mas', lambda: 300, value: 0.601 },
    { variant: 'ewc-si', lambda: 24, value: 0.507 },
    { variant: 'sewc-fis', lambda: 1300, value: 0.582 },
    { variant: 'sewc-mas', lambda: 450, value: 0.593 },
    { variant: 'sewc-si', lambda: 140, value: 0.502 },
  ],
  config: ({ quick }) => ({
    name: 'paper2-conv',
    data: { dataset: 'auto', sequence: 'queue', angles: [0, 90], validation: 5000, ...(quick ? { trainLimit: 3000 } : {}) },
    model: quick ? 'paper2-conv:0.125' : 'paper2-conv',
    optimizer: 'adam',
    learningRate: 1e-3,
    ...(quick ? { iterations: 60 } : { epochs: 2 }),
    batchSize: 100,
    seeds: quick ? [0] : range(5),
    variants: variants(
      [
        ['plain', undefined],
        ['ewc-fis', 675],
        ['ewc-mas', 300],
        ['ewc-si', 24],
        ['sewc-fis', 1300],
        ['sewc-mas', 450],
        ['sewc-si', 140],
      ],
      quick,
    ),
    importanceLimit: quick ? 300 : 5000,
    ...(quick ? { evalLimit: 1000 } : {}),
    backend: 'wasm',
  }),
};

const paper3: Preset = {
  name: 'paper3',
  title: 'Paper 3: correlations of FIS, MAS, SI and SIG per layer and task',
  paper: '2211.17012',
  kind: 'correlations',
  protocol:
    "Paper 2's MLP and protocol (10 permuted tasks, Adam lr 1e-3, 6 epochs, 5000 closing samples), EWC with MAS at λ 4.5; after each task, per layer, the correlations between the four importances.",
  publishedMetric: 'Pearson correlation of importances per layer',
  published: [],
  correlations: [
    { pair: 'FIS vs MAS', claim: '> 0.8', atLeast: 0.8 },
    { pair: 'FIS vs MAS²', claim: 'higher than FIS vs MAS' },
    { pair: 'MAS vs SI', claim: '> 0.8', atLeast: 0.8 },
    { pair: 'FIS vs SI', claim: '> 0.75', atLeast: 0.75 },
    { pair: 'FIS vs SIG', claim: '≈ 0.6 on the input layer, falling to negative at the output layer' },
    { pair: 'MAS vs SIG', claim: '≈ 0.6 on the input layer, falling to negative at the output layer' },
    { pair: 'SI vs SIG', claim: '≈ 0.6 on the input layer, falling to negative at the output layer' },
  ],
  config: ({ quick }) => ({
    name: 'paper3',
    data: { dataset: 'auto', sequence: 'permuted', numTasks: quick ? 3 : 10, seed: 0, validation: 5000, ...(quick ? { trainLimit: 10000 } : {}) },
    model: MLP_LRELU,
    optimizer: 'adam',
    learningRate: 1e-3,
    epochs: quick ? 1 : 6,
    batchSize: 100,
    seeds: [0],
    variants: [{ method: 'ewc-mas', lambdas: [4.5] }],
    importanceLimit: quick ? 1000 : 5000,
    ...(quick ? { evalLimit: 2000 } : {}),
    backend: 'wasm',
    correlations: true,
  }),
};

const SGD_LR = 0.2;
const ADAM_LR = 1e-3;

const paper4: Preset = {
  name: 'paper4',
  title: 'Paper 4: WVA structure (SGD/Adam × hyperbolic/exponential × gradients/steps)',
  paper: '2208.05791',
  kind: 'continual',
  protocol: '10 permuted tasks, MLP 784-300-150-10 leaky ReLU, batch 100, 4 epochs per task, SGD lr 0.2 or Adam lr 1e-3, closing set 5000 validation samples.',
  publishedMetric: 'accuracy after task 10 at the best λ (permuted MNIST)',
  published: [
    { variant: 'wva-sig:grads@sgd', lambda: 1475, value: 0.875 },
    { variant: 'wva-sig:steps@sgd', lambda: 1650, value: 0.875 },
    { variant: 'wva-sig:exp:grads@sgd', lambda: 143, value: 0.877 },
    { variant: 'wva-sig:grads@adam', lambda: 3450, value: 0.407 },
    { variant: 'wva-sig:steps@adam', lambda: 1285, value: 0.841 },
    { variant: 'wva-sig:exp:steps@adam', lambda: 114, value: 0.824 },
    { variant: 'wva-fis:grads@sgd', lambda: 36050, value: 0.899 },
    { variant: 'wva-fis:steps@adam', lambda: 90050, value: 0.879 },
    { variant: 'wva-mas:grads@sgd', lambda: 101550, value: 0.881 },
    { variant: 'wva-mas:steps@adam', lambda: 170050, value: 0.858 },
  ],
  config: ({ quick }) => {
    const sgd = { optimizer: 'sgd' as const, learningRate: SGD_LR };
    const adam = { optimizer: 'adam' as const, learningRate: ADAM_LR };
    const wva = (method: string, attenuation: 'hyperbolic' | 'exponential', applyTo: 'gradients' | 'steps', opt: typeof sgd | typeof adam, best: number): VariantConfig => ({
      method,
      attenuation,
      applyTo,
      ...opt,
      lambdas: grid(best, quick),
    });
    const list: VariantConfig[] = [
      { method: 'plain', lambdas: [0], ...sgd },
      { method: 'plain', lambdas: [0], ...adam },
      wva('wva-sig', 'hyperbolic', 'gradients', sgd, 1475),
      wva('wva-sig', 'hyperbolic', 'steps', sgd, 1650),
      wva('wva-sig', 'exponential', 'gradients', sgd, 143),
      wva('wva-sig', 'exponential', 'steps', sgd, 143),
      wva('wva-sig', 'hyperbolic', 'gradients', adam, 3450),
      wva('wva-sig', 'hyperbolic', 'steps', adam, 1285),
      wva('wva-sig', 'exponential', 'gradients', adam, 114),
      wva('wva-sig', 'exponential', 'steps', adam, 114),
    ];
    if (!quick) {
      list.push(
        wva('wva-fis', 'hyperbolic', 'gradients', sgd, 36050),
        wva('wva-fis', 'hyperbolic', 'steps', adam, 90050),
        wva('wva-mas', 'hyperbolic', 'gradients', sgd, 101550),
        wva('wva-mas', 'hyperbolic', 'steps', adam, 170050),
      );
    }
    return {
      name: 'paper4',
      data: { dataset: 'auto', sequence: 'permuted', numTasks: quick ? 3 : 10, seed: 0, validation: 5000, ...(quick ? { trainLimit: 10000 } : {}) },
      model: MLP_LRELU,
      optimizer: 'sgd',
      learningRate: SGD_LR,
      epochs: quick ? 1 : 4,
      batchSize: 100,
      seeds: quick ? [0] : range(3),
      variants: list,
      importanceLimit: quick ? 1000 : 5000,
      ...(quick ? { evalLimit: 2000 } : {}),
      backend: 'wasm',
    };
  },
};

const pruning: Preset = {
  name: 'pruning',
  title: 'Paper 2: pruning by importance (one task, the smallest-importance weights zeroed)',
  paper: '2109.10021',
  kind: 'pruning',
  protocol:
    'One task, MLP 784-300-150-10 leaky ReLU, Adam lr 1e-3, importances on 10 000 samples; weights zeroed globally (biases included) at 70/80/90/95/97 % and per layer at 80/90 %.',
  publishedMetric: 'test accuracy after pruning (MNIST)',
  // the table (global 70–97 %, per layer 80/90 %, per importance) is PAPER2_PRUNING in pruning.ts
  published: [],
};

/**
 * van de Ven & Tolias 2019, "Three scenarios for continual learning" (arXiv:1904.07734v1), Table 2:
 * split MNIST (5 tasks of 2 digits), MLP 784-400-400, Adam lr 1e-3, 2000 iterations per task, batch
 * 128, mean (± SEM) over 20 runs of the average test accuracy (%) after the last task.
 */
export const VAN_DE_VEN_SPLIT_MNIST: readonly PublishedScenarioRow[] = [
  { method: 'None (lower bound)', variant: 'plain', task: '87.19 (± 0.94)', domain: '59.21 (± 2.04)', class: '19.90 (± 0.02)' },
  { method: 'Offline (upper bound)', variant: 'joint', task: '99.66 (± 0.02)', domain: '98.42 (± 0.06)', class: '97.94 (± 0.03)' },
  { method: 'XdG', task: '99.10 (± 0.08)' },
  { method: 'EWC', variant: 'ewc-fis:separate', task: '98.64 (± 0.22)', domain: '63.95 (± 1.90)', class: '20.01 (± 0.06)' },
  { method: 'Online EWC', variant: 'ewc-fis:decay', task: '99.12 (± 0.11)', domain: '64.32 (± 1.90)', class: '19.96 (± 0.07)' },
  { method: 'SI', variant: 'ewc-si', task: '99.09 (± 0.15)', domain: '65.36 (± 1.57)', class: '19.99 (± 0.06)' },
  { method: 'LwF', variant: 'lwf', task: '99.57 (± 0.02)', domain: '71.50 (± 1.63)', class: '23.85 (± 0.44)' },
  { method: 'DGR', task: '99.50 (± 0.03)', domain: '95.72 (± 0.25)', class: '90.79 (± 0.41)' },
  { method: 'DGR+distill', task: '99.61 (± 0.02)', domain: '96.83 (± 0.20)', class: '91.79 (± 0.32)' },
  { method: 'iCaRL (budget 2000)', class: '94.57 (± 0.11)' },
];

/**
 * The three scenarios (van de Ven & Tolias 2019) on split Fashion-MNIST (5 tasks of 2 classes):
 * regularisers, LwF, replay, EWC with replay, PackNet and joint training, each scenario one
 * experiment. MLP 784-400-400-10 (theirs), SGD lr 0.1 (the λ of this repository's defaults were tuned
 * under it), 100 iterations of batch 100 per task (replayed examples add to a batch), 3 seeds.
 */
const SCENARIO_METHODS: [string, number | undefined][] = [
  ['plain', undefined],
  ['ewc-fis:separate', 5],
  ['ewc-fis:decay', 5],
  ['ewc-si', 0.1],
  ['ewc-mas', 3],
  ['wva-sig', 30],
  ['lwf', 1],
  ['replay-100', undefined],
  ['replay-1000', undefined],
  ['ewc-fis+replay-1000', 5],
  ['packnet', undefined],
  ['joint', undefined],
];

const threeScenarios: Preset = {
  name: 'three-scenarios',
  title: 'The three scenarios: regularisers, LwF, replay, PackNet and joint training on split Fashion-MNIST',
  paper: '1904.07734',
  kind: 'scenarios',
  scenarios: ['task', 'domain', 'class'],
  heads: { task: 'multi', class: 'grow' },
  protocol:
    "Split Fashion-MNIST, 5 tasks of 2 classes, in the task-, domain- and class-incremental scenarios; MLP 784-400-400, SGD lr 0.1, batch 100, 100 iterations per task, 3 seeds. Task-incremental: one 2-unit head per task (multi-head); domain-incremental: one shared 10-unit output layer (each task's labels are 0 and 1); class-incremental: one head that starts with the first task's 2 classes and grows by 2 units per task. Every task is evaluated after every task, the untrained model included (FWT).",
  publishedMetric: 'average accuracy over the 5 tasks after the last (split MNIST, van de Ven & Tolias 2019, Table 2)',
  published: [],
  publishedScenarios: VAN_DE_VEN_SPLIT_MNIST,
  config: ({ quick }) => ({
    name: 'three-scenarios',
    data: { dataset: 'embedded', sequence: 'split', scenario: 'task', ...(quick ? { trainLimit: 500 } : {}) },
    model: quick ? '784-100-10' : '784-400-400-10',
    optimizer: 'sgd',
    learningRate: 0.1,
    iterations: quick ? 20 : 100,
    batchSize: 100,
    seeds: quick ? [0] : range(3),
    variants: SCENARIO_METHODS.map(([label, lambda]) => {
      const [head = '', added] = label.split('+');
      const [method = '', ...mods] = head.split(':');
      const v: VariantConfig = { method, lambdas: lambda === undefined ? [0] : [lambda] };
      if (mods.includes('separate')) v.mode = 'separate';
      if (mods.includes('decay')) v.mode = 'decay';
      if (added) v.replay = { budget: Number(added.replace('replay-', '')) };
      return v;
    }),
    importanceLimit: quick ? 200 : 1000,
    ...(quick ? { evalLimit: 500 } : {}),
    evaluateOn: 'all',
    backend: 'wasm',
  }),
};

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  paper1,
  'paper2-fc': paper2fc,
  'paper2-conv': paper2conv,
  paper3,
  paper4,
  pruning,
  'three-scenarios': threeScenarios,
};

export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}
