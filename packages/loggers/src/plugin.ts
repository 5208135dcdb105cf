/**
 * loggerPlugin: a `trainContinual` plugin that logs the run to sinks: every progress event (the loss
 * per progress interval, accuracies after each task with average accuracy, forgetting and BWT) and,
 * at each task's end, a histogram per parameter of the importances the run's other plugins hold.
 *
 * Progress events reach plugins through `onProgress` only, so wire both: `logger.attach(options)`
 * returns the options with the logger appended to `plugins` (its `afterTask` then runs after the
 * others' have computed their importances) and `onProgress` chained; or pass
 * `plugins: [..., logger]` and `onProgress: logger.onProgress` yourself.
 */
import type { ContinualOptions, ParamMap, Plugin, ProgressEvent, TrainContext } from '@forgetless/core';
import { type ProgressLogger, type ProgressLoggerOptions, progressLogger } from './logger.js';
import { type LogSink, teeSink } from './sink.js';

/**
 * Where importances come from: an `importanceTracker` (its running `importances`), a plugin with a
 * `tracker` (consolidation plugins of `@forgetless/regularizers`, `wvaPlugin` of
 * `@forgetless/optimizers`), or a function returning a parameter map (undefined: nothing to log).
 */
export type ImportanceSource =
  | { readonly name?: string; readonly importances?: Readonly<ParamMap> | undefined }
  | { readonly name?: string; readonly tracker?: { readonly importances?: Readonly<ParamMap> | undefined } | undefined }
  | (() => Readonly<ParamMap> | undefined);

export interface LoggerPluginOptions extends ProgressLoggerOptions {
  /**
   * Importances to log at each task's end (histograms). Default: found by `attach` among the run's
   * plugins (those with `importances` or a `tracker`); `false`: none.
   */
  importances?: false | readonly ImportanceSource[];
}

export interface LoggerPlugin extends Plugin {
  readonly logger: ProgressLogger;
  /** Logs a progress event (bound: pass it as `onProgress`). */
  readonly onProgress: (event: ProgressEvent) => void;
  /** `options` with this plugin appended to `plugins` and `onProgress` chained (the given one first). */
  attach<O extends ContinualOptions>(options: O): O;
  /** Writes what the sinks buffer. */
  flush(): Promise<void>;
  /** Flushes and closes the sinks (call after training). */
  close(): Promise<void>;
}

/** The source's parameter map now, if any. */
export function importancesOf(source: ImportanceSource): Readonly<ParamMap> | undefined {
  if (typeof source === 'function') return source();
  if ('importances' in source && source.importances && typeof source.importances === 'object') return source.importances;
  if ('tracker' in source) return source.tracker?.importances;
  return undefined;
}

function isImportanceSource(p: Plugin): boolean {
  const x = p as { importances?: unknown; tracker?: unknown };
  return 'importances' in x || (!!x.tracker && typeof x.tracker === 'object' && 'importances' in x.tracker);
}

export function loggerPlugin(sink: LogSink | readonly LogSink[], options: LoggerPluginOptions = {}): LoggerPlugin {
  const out = Array.isArray(sink) ? teeSink(sink as readonly LogSink[]) : (sink as LogSink);
  const { importances, ...loggerOptions } = options;
  const logger = progressLogger(out, loggerOptions);
  let sources: readonly ImportanceSource[] = importances === false ? [] : (importances ?? []);
  const onProgress = (event: ProgressEvent) => logger.log(event);
  const plugin: LoggerPlugin = {
    name: 'logger',
    logger,
    onProgress,
    attach(o) {
      const plugins = o.plugins ?? [];
      if (importances === undefined) sources = plugins.filter(isImportanceSource) as ImportanceSource[];
      const given = o.onProgress;
      return {
        ...o,
        plugins: [...plugins, plugin],
        onProgress: (e: ProgressEvent) => {
          given?.(e);
          onProgress(e);
        },
      };
    },
    async afterTask(ctx: TrainContext) {
      const seen = new Set<Readonly<ParamMap>>();
      const maps = sources.flatMap((s, k) => {
        const m = importancesOf(s);
        if (!m || seen.has(m)) return [];
        seen.add(m);
        return [{ map: m, name: typeof s === 'function' ? `source_${k + 1}` : (s.name ?? `source_${k + 1}`) }];
      });
      for (const { map, name } of maps) await logger.logImportances(map, ctx.step, maps.length > 1 ? `importance/${name}` : 'importance');
    },
    flush: async () => {
      await out.flush?.();
    },
    close: async () => {
      await out.close?.();
    },
  };
  return plugin;
}
