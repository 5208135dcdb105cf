/**
 * correlationRecorder: during a continual run, records after every task the per-layer Pearson and
 * Spearman correlations between the importances of several methods (default FIS, MAS, SI, SIG,
 * plus FIS vs MAS²): the data of paper 3's layer × task surfaces. Each method runs in its own
 * `importanceTracker`, so SI follows the real training steps.
 */
import type { Plugin, StepInfo, TrainContext } from '@forgetless/core';
import { type ImportanceMethod, checkMethod } from './compute.js';
import { type CorrelationMethod, type CorrelationScope, checkCorrelationOptions, correlationTable } from './correlation.js';
import { type ImportanceTracker, type ImportanceTrackerOptions, importanceTracker } from './tracker.js';

export const METHOD_LABELS: Record<ImportanceMethod, string> = { fisher: 'FIS', mas: 'MAS', si: 'SI', sig: 'SIG', magnitude: '|w|', taylor: 'Taylor' };

export interface CorrelationRecorderOptions {
  /** Methods to compare (default fisher, mas, si, sig). */
  methods?: ImportanceMethod[];
  /** Per-method options (e.g. `{ fisher: { variant: 'exact' } }`). */
  methodOptions?: Partial<Record<ImportanceMethod, ImportanceTrackerOptions['methodOptions']>>;
  /** Correlate each task's own importances (default) or the running sums over tasks. */
  importances?: 'task' | 'accumulated';
  scope?: CorrelationScope;
  closingSet?: ImportanceTrackerOptions['closingSet'];
  /** Closing-set examples per task (default 5000). */
  limit?: number;
}

export interface CorrelationRecord {
  taskIndex: number;
  task: string;
  /** e.g. `FIS vs MAS`, `FIS vs MAS²`. */
  pair: string;
  layer: string;
  pearson: number;
  spearman: number;
}

export interface CorrelationSurface {
  pair: string;
  method: CorrelationMethod;
  layers: string[];
  tasks: string[];
  /** values[l][t]: correlation on layer l after task t. */
  values: number[][];
}

export interface CorrelationRecorder extends Plugin {
  readonly records: CorrelationRecord[];
  /** The trackers by label (FIS, MAS, ...); their `last` / `importances` are readable after each task. */
  readonly trackers: Record<string, ImportanceTracker>;
  /** Called after each task with that task's records. */
  onRecord(cb: (records: CorrelationRecord[]) => void | Promise<void>): () => void;
  /** One pair's layer × task surface. */
  surface(pair: string, method?: CorrelationMethod): CorrelationSurface;
  afterTask(ctx: TrainContext): Promise<void>;
  dispose(): void;
}

export function correlationRecorder(options: CorrelationRecorderOptions = {}): CorrelationRecorder {
  const methods = (options.methods ?? ['fisher', 'mas', 'si', 'sig']).map((m) => checkMethod(m, 'correlationRecorder'));
  if (new Set(methods).size < 2 || new Set(methods).size !== methods.length) {
    throw new Error(`correlationRecorder: methods must be at least two distinct methods, got [${methods.join(', ')}]`);
  }
  const use = options.importances ?? 'task';
  if (use !== 'task' && use !== 'accumulated') throw new Error(`correlationRecorder: importances must be 'task' or 'accumulated', got '${String(use)}'`);
  const { scope } = checkCorrelationOptions({ scope: options.scope ?? 'both' }, 'correlationRecorder');
  const trackers: Record<string, ImportanceTracker> = {};
  for (const m of methods) {
    trackers[METHOD_LABELS[m]] = importanceTracker({
      method: m,
      ...(options.methodOptions?.[m] ? { methodOptions: options.methodOptions[m] } : {}),
      ...(options.closingSet ? { closingSet: options.closingSet } : {}),
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
    });
  }
  const all = Object.values(trackers);
  const records: CorrelationRecord[] = [];
  const listeners = new Set<(r: CorrelationRecord[]) => void | Promise<void>>();

  return {
    name: 'correlations',
    needsDelta: all.some((t) => t.needsDelta),
    records,
    trackers,
    onRecord(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    beforeTask(ctx: TrainContext) {
      for (const t of all) t.beforeTask?.(ctx);
    },
    afterStep(info: StepInfo, ctx: TrainContext) {
      for (const t of all) t.afterStep?.(info, ctx);
    },
    async afterTask(ctx: TrainContext) {
      for (const t of all) await t.afterTask(ctx);
      const maps = Object.fromEntries(Object.entries(trackers).map(([label, t]) => [label, use === 'task' ? t.last : t.importances])) as Record<
        string,
        NonNullable<ImportanceTracker['last']>
      >;
      const p = await correlationTable(maps, { method: 'pearson', scope });
      const s = await correlationTable(maps, { method: 'spearman', scope });
      const added: CorrelationRecord[] = [];
      p.rows.forEach((row, i) => {
        for (const layer of p.layers) {
          added.push({ taskIndex: ctx.taskIndex, task: ctx.task.name, pair: row.pair, layer, pearson: row.r[layer] as number, spearman: s.rows[i]?.r[layer] as number });
        }
      });
      records.push(...added);
      for (const cb of listeners) await cb(added);
    },
    surface(pair: string, method: CorrelationMethod = 'pearson'): CorrelationSurface {
      const rows = records.filter((r) => r.pair === pair);
      if (rows.length === 0) {
        const pairs = [...new Set(records.map((r) => r.pair))];
        throw new Error(`correlationRecorder.surface: no records for pair '${pair}' (recorded: ${pairs.join(', ') || 'none yet'})`);
      }
      const layers = [...new Set(rows.map((r) => r.layer))];
      const taskIdx = [...new Set(rows.map((r) => r.taskIndex))].sort((a, b) => a - b);
      const tasks = taskIdx.map((t) => (rows.find((r) => r.taskIndex === t) as CorrelationRecord).task);
      const values = layers.map((l) => taskIdx.map((t) => rows.find((r) => r.layer === l && r.taskIndex === t)?.[method] ?? Number.NaN));
      return { pair, method, layers, tasks, values };
    },
    dispose() {
      for (const t of all) t.dispose();
      listeners.clear();
    },
  };
}
