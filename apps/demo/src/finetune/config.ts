/**
 * The configuration of a fine-tuning comparison (`forgetless finetune`, the page's fine-tune
 * panel): methods × λ on one pretrained model, and its validation. Errors name the option at fault
 * (`ConfigError` with the CLI's spelling).
 *
 * Browser-safe: no node:* imports.
 */
import { type BackendChoice, ConfigError, OPTIMIZERS, type VariantConfig } from '@forgetless/experiments';
import { MethodError, type OptimizerName, hasLambda, methodDefinition, parseVariant, variantLabel } from '@forgetless/experiments';

/** What happens to the classifier head: kept, given units for new classes, or replaced by a new one. */
export type HeadChoice = 'keep' | 'extend' | 'replace';
export const HEAD_CHOICES: readonly HeadChoice[] = ['keep', 'extend', 'replace'];

/**
 * Batch normalisation while fine-tuning: `frozen` (the layers run in inference mode with their γ, β
 * and statistics as pretrained, Keras's advice for fine-tuning), `train` (statistics move with the
 * new data, γ and β train), `recalibrate` (as `train`, then the statistics are re-estimated on old +
 * new training images by forward passes).
 */
export type BatchNormChoice = 'frozen' | 'train' | 'recalibrate';
export const BATCH_NORM_CHOICES: readonly BatchNormChoice[] = ['frozen', 'train', 'recalibrate'];

export interface FinetuneConfig {
  /** Methods and their λ grids; plain fine-tuning is always run beside them (added when missing). */
  variants: VariantConfig[];
  optimizer: OptimizerName;
  learningRate: number;
  epochs: number;
  batchSize: number;
  /** Shuffling and dropout seed, and the seed of a replaced head's initialiser. */
  seed: number;
  head: HeadChoice;
  /** Layers frozen while fine-tuning: names, prefixes (`block_1_*`) or globs (`*_BN`). */
  freeze: string[];
  batchNorm: BatchNormChoice;
  /** Old examples the importances of the pretrained weights are computed on. */
  importanceLimit: number;
  /** Evaluate on at most this many test examples per part (default all). */
  evalLimit?: number;
  /** Examples per evaluation / importance batch (default 100). */
  evalBatchSize?: number;
  /**
   * The best λ of a method is its best new-data accuracy among the λ whose old-data accuracy fell
   * by at most this much (default 0.05); when none did, the λ whose old accuracy fell least.
   */
  maxOldDrop: number;
  backend: BackendChoice;
}

/** Methods whose importance cannot be computed on a pretrained model without its training path. */
const NEEDS_TRAINING_PATH = new Set(['si']);

export function defaultFinetuneConfig(): FinetuneConfig {
  return {
    variants: [
      { method: 'plain', lambdas: [0] },
      { method: 'ewc-fis', lambdas: [1000] },
    ],
    optimizer: 'adam',
    learningRate: 1e-3,
    epochs: 1,
    batchSize: 32,
    seed: 0,
    head: 'keep',
    freeze: [],
    batchNorm: 'frozen',
    importanceLimit: 1000,
    maxOldDrop: 0.05,
    backend: 'wasm',
  };
}

/** `stabilized-ewc-mas` / `stabilised-ewc-mas` → `sewc-mas`; the rest as `parseVariant`. */
export function normalizeMethodName(text: string): string {
  return text.trim().replace(/^stabili[sz]ed-ewc-/i, 'sewc-');
}

const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;
const positiveInt = (x: unknown) => Number.isInteger(x) && (x as number) > 0;

/** Checks every option; returns a normalised copy (plain first, methods parsed) or throws a ConfigError naming the option. */
export function validateFinetuneConfig(raw: FinetuneConfig): FinetuneConfig {
  const c = structuredClone(raw);
  if (!OPTIMIZERS.includes(c.optimizer)) throw new ConfigError('--optimizer', `must be sgd or adam, got '${String(c.optimizer)}'`);
  if (!positive(c.learningRate)) throw new ConfigError('--lr', `must be a positive number, got ${String(c.learningRate)}`);
  if (!positiveInt(c.epochs) || c.epochs > 1000) throw new ConfigError('--epochs', `must be an integer from 1 to 1000, got ${String(c.epochs)}`);
  if (!positiveInt(c.batchSize) || c.batchSize > 65_536) throw new ConfigError('--batch-size', `must be an integer from 1 to 65536, got ${String(c.batchSize)}`);
  if (!Number.isInteger(c.seed) || c.seed < 0) throw new ConfigError('--seed', `must be an integer ≥ 0, got ${String(c.seed)}`);
  if (!HEAD_CHOICES.includes(c.head)) throw new ConfigError('--head', `must be one of ${HEAD_CHOICES.join(', ')}, got '${String(c.head)}'`);
  if (!BATCH_NORM_CHOICES.includes(c.batchNorm)) throw new ConfigError('--batch-norm', `must be one of ${BATCH_NORM_CHOICES.join(', ')}, got '${String(c.batchNorm)}'`);
  if (!positiveInt(c.importanceLimit)) throw new ConfigError('--importance-samples', `must be a positive integer, got ${String(c.importanceLimit)}`);
  if (c.evalLimit !== undefined && !positiveInt(c.evalLimit)) throw new ConfigError('--eval-limit', `must be a positive integer, got ${String(c.evalLimit)}`);
  if (c.evalBatchSize !== undefined && !positiveInt(c.evalBatchSize)) throw new ConfigError('--eval-batch-size', `must be a positive integer, got ${String(c.evalBatchSize)}`);
  if (!(typeof c.maxOldDrop === 'number' && c.maxOldDrop >= 0 && c.maxOldDrop <= 1))
    throw new ConfigError('--max-old-drop', `must be a number from 0 to 1, got ${String(c.maxOldDrop)}`);
  if (!Array.isArray(c.freeze) || c.freeze.some((f) => typeof f !== 'string' || f.trim() === ''))
    throw new ConfigError('--freeze', 'must list layer names, prefixes (name*) or globs');
  if (!Array.isArray(c.variants) || c.variants.length === 0) throw new ConfigError('--methods', 'name at least one method');
  const seen = new Set<string>();
  const variants: VariantConfig[] = [];
  for (const v of c.variants) {
    let spec: ReturnType<typeof parseVariant>;
    try {
      spec = { ...parseVariant(normalizeMethodName(variantLabel(v))), ...(v.learningRate !== undefined ? { learningRate: v.learningRate } : {}) };
    } catch (e) {
      if (e instanceof MethodError) throw new ConfigError('--methods', e.message.replace(/^unknown method/, 'unknown method'));
      throw e;
    }
    const def = methodDefinition(spec.method);
    if (def.importance && NEEDS_TRAINING_PATH.has(def.importance)) {
      throw new ConfigError(
        '--methods',
        `${spec.method}: SI's importance is a path integral over the old task's training, which a pretrained model does not come with; use fis, mas or sig`,
      );
    }
    const label = variantLabel(spec);
    if (seen.has(label)) throw new ConfigError('--methods', `'${label}' is named twice`);
    seen.add(label);
    const lambdas = hasLambda(spec.method) ? v.lambdas : [0];
    if (!Array.isArray(lambdas) || lambdas.length === 0 || lambdas.some((l) => !(typeof l === 'number' && Number.isFinite(l) && l >= 0))) {
      throw new ConfigError('--lambda', `${label}: λ must be numbers ≥ 0, got ${JSON.stringify(v.lambdas)}`);
    }
    if (new Set(lambdas).size !== lambdas.length) throw new ConfigError('--lambda', `${label}: λ ${lambdas.join(',')} repeats a value`);
    variants.push({ ...spec, lambdas: [...lambdas] });
  }
  if (!variants.some((v) => v.method === 'plain')) variants.unshift({ method: 'plain', lambdas: [0] });
  const runs = variants.reduce((n, v) => n + v.lambdas.length, 0);
  if (runs > 1000) throw new ConfigError('--lambda', `${runs} runs (methods × λ) is more than 1000`);
  return { ...c, variants };
}

/** Every run of a config in order: variant index and λ. */
export function finetuneKeys(config: FinetuneConfig): { variant: number; lambda: number }[] {
  return config.variants.flatMap((v, variant) => v.lambdas.map((lambda) => ({ variant, lambda })));
}

/** Layer names matching a pattern: exact, `prefix*`, or a glob with `*` and `?` anywhere. */
export function matchLayers(pattern: string, names: readonly string[]): string[] {
  if (!/[*?]/.test(pattern)) return names.filter((n) => n === pattern);
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return names.filter((n) => re.test(n));
}

/** The most memory a batch's layer outputs may take in evaluation and importances: the wasm heap stops at 4 GB, and a backward pass needs as much again. */
export const BATCH_MEMORY_BYTES = 1.5 * 2 ** 30;

/**
 * Examples per evaluation / importance batch: 100, or fewer when the model's layer outputs for one
 * example, twice over (kept for the backward pass, and its gradients), would not fit
 * `BATCH_MEMORY_BYTES` that many times (nsfwjs's 224×224 MobileNetV2: 82 MB of layer outputs per
 * example, batches of 9). Inputs of any size: 100 (the examples' shape decides, and is not known here).
 */
export function memoryFittingBatch(model: { layerShapes(): Record<string, { output: readonly number[] }> }): { batch: number; bytesPerExample: number } {
  let floats = 0;
  try {
    for (const s of Object.values(model.layerShapes())) floats += s.output.reduce((a, b) => a * b, 1);
  } catch {
    return { batch: 100, bytesPerExample: 0 };
  }
  return { batch: Math.max(1, Math.min(100, Math.floor(BATCH_MEMORY_BYTES / (2 * 4 * floats)))), bytesPerExample: 4 * floats };
}
