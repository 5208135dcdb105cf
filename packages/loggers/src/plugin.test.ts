import * as tf from '@tensorflow/tfjs-core';
import { type ContinualResult, type ProgressEvent, averageForgetting, backwardTransfer, mlp, syntheticPermutedTasks, trainContinual } from '@forgetless/core';
import { importanceTracker } from '@forgetless/importances';
import { describe, expect, it } from 'vitest';
import { type HistogramEntry, type ProgressEntry, type ScalarEntry, memorySink } from './index.js';
import { loggerPlugin } from './plugin.js';

const tasks = syntheticPermutedTasks({ numTasks: 3, features: 16, numClasses: 4, trainPerClass: 20, testPerClass: 10, seed: 4 });

describe('loggerPlugin on trainContinual', () => {
  it('logs the losses and accuracies trainContinual reports, task metrics, and importance histograms, keeping no tensor', async () => {
    const model = mlp([16, 12, 4], { seed: 1 });
    const optimizer = tf.train.sgd(0.1);
    const tracker = importanceTracker({ method: 'magnitude' });
    const sink = memorySink();
    const logger = loggerPlugin(sink);
    const seen: ProgressEvent[] = [];
    const before = tf.memory().numTensors;
    const options = logger.attach({ optimizer, iterations: 6, batchSize: 20, progressEvery: 2, seed: 2, plugins: [tracker], onProgress: (e: ProgressEvent) => seen.push(e) });
    expect(options.plugins?.at(-1)).toBe(logger);
    const result = await trainContinual(model, tasks, options);
    await logger.close();
    const held = Object.keys(tracker.importances ?? {}).length + Object.keys(tracker.last ?? {}).length;
    expect(tf.memory().numTensors).toBe(before + held); // the tracker's, none of the logger's

    const progress = sink.entries.filter((e): e is ProgressEntry => e.type === 'progress');
    expect(progress.map((e) => e.event)).toEqual(seen); // every event, in order
    const scalars = (tag: string) => sink.entries.filter((e): e is ScalarEntry => e.type === 'scalar' && e.tag === tag).map((e) => ({ step: e.step, value: e.value }));
    expect(scalars('loss')).toEqual(result.losses.map((l) => ({ step: l.step, loss: l.loss })).map(({ step, loss }) => ({ step, value: loss })));
    expect(scalars('loss')).toHaveLength(9);
    const taskSteps = result.timings.map((_, i) => 6 * (i + 1));
    for (let j = 0; j < 3; j++) {
      expect(scalars(`accuracy/task_${j + 1}`)).toEqual(taskSteps.slice(j).map((step, k) => ({ step, value: result.accuracy[j + k]?.[j] })));
    }
    expect(scalars('accuracy/average').map((s) => s.value)).toEqual(result.averageAccuracy);
    const R = result.accuracy;
    expect(scalars('forgetting')).toEqual([
      { step: 12, value: averageForgetting(R.slice(0, 2)) },
      { step: 18, value: averageForgetting(R) },
    ]);
    expect(scalars('bwt').map((s) => s.value)).toEqual([backwardTransfer(R.slice(0, 2)), backwardTransfer(R)]);
    expect(progress.filter((e) => e.event.kind === 'task').map((e) => e.averageAccuracy)).toEqual(result.averageAccuracy);

    const histograms = sink.entries.filter((e): e is HistogramEntry => e.type === 'histogram');
    const names = Object.keys(model.params);
    expect(histograms.map((h) => `${h.step} ${h.tag}`)).toEqual(taskSteps.flatMap((s) => names.map((n) => `${s} importance/${n}`)));
    const last = histograms.at(-1) as HistogramEntry;
    const lastImportance = tracker.importances?.[names.at(-1) as string] as tf.Tensor;
    const values = await lastImportance.data();
    expect(last.histogram.num).toBe(values.length);
    expect(last.histogram.max).toBeCloseTo(Math.max(...values), 6);
    tracker.dispose();
    model.dispose();
    optimizer.dispose();
  });

  it('takes explicit importance sources (plugins with a tracker, functions), prefixed by name when several, or none', async () => {
    const model = mlp([16, 12, 4], { seed: 1 });
    const optimizer = tf.train.sgd(0.1);
    const tracker = importanceTracker({ method: 'magnitude' });
    const sink = memorySink();
    const withTracker = { name: 'wva', tracker };
    const w = tf.ones([2]);
    const logger = loggerPlugin([sink], { importances: [withTracker, () => ({ w }), () => undefined] });
    await trainContinual(model, tasks.slice(0, 1), { optimizer, iterations: 2, batchSize: 20, plugins: [tracker, logger], onProgress: logger.onProgress });
    const tags = sink.entries.filter((e): e is HistogramEntry => e.type === 'histogram').map((e) => e.tag);
    expect(tags).toEqual([...Object.keys(model.params).map((n) => `importance/wva/${n}`), 'importance/source_2/w']);
    const none = memorySink();
    const quiet = loggerPlugin(none, { importances: false });
    await trainContinual(model, tasks.slice(0, 1), quiet.attach({ optimizer, iterations: 2, batchSize: 20, plugins: [tracker] }));
    expect(none.entries.some((e) => e.type === 'histogram')).toBe(false);
    expect(none.entries.some((e) => e.type === 'scalar' && e.tag === 'accuracy/task_1')).toBe(true);
    w.dispose();
    tracker.dispose();
    model.dispose();
    optimizer.dispose();
  });

  it('continues a resumed run’s steps (stepOffset) and its forgetting (accuracy rows before), as the run in one go logs them', async () => {
    const run = async (resume: boolean) => {
      const before = tf.memory().numTensors;
      const model = mlp([16, 12, 4], { seed: 1 });
      const optimizer = tf.train.sgd(0.1);
      const tracker = importanceTracker({ method: 'magnitude' });
      const sink = memorySink();
      const common = { optimizer, iterations: 6, batchSize: 20, progressEvery: 2, seed: 2 };
      if (!resume) {
        const logger = loggerPlugin(sink);
        const result = await trainContinual(model, tasks, logger.attach({ ...common, plugins: [tracker] }));
        await logger.close();
        tracker.dispose();
        model.dispose();
        optimizer.dispose();
        return { sink, result, before, after: tf.memory().numTensors };
      }
      // tasks 1–2 trained and "checkpointed", then task 3 in a new trainContinual (its steps count from 0 again)
      const stop = new AbortController();
      let first: Pick<ContinualResult, 'accuracy' | 'timings'> = { accuracy: [], timings: [] };
      const onTaskEnd = ({ taskIndex, result }: { taskIndex: number; result: ContinualResult }) => {
        if (taskIndex !== 1) return;
        first = { accuracy: result.accuracy.map((r) => [...r]), timings: [...result.timings] };
        stop.abort();
      };
      await trainContinual(model, tasks, { ...common, plugins: [tracker], onTaskEnd, signal: stop.signal });
      expect(first.timings).toHaveLength(2);
      const stepOffset = first.timings.reduce((n, t) => n + t.steps, 0);
      const logger = loggerPlugin(sink, { stepOffset, accuracy: first.accuracy });
      const result = await trainContinual(model, tasks, logger.attach({ ...common, plugins: [tracker], startTask: 2, previous: first }));
      await logger.close();
      tracker.dispose();
      model.dispose();
      optimizer.dispose();
      return { sink, result, before, after: tf.memory().numTensors };
    };
    const whole = await run(false);
    const resumed = await run(true);
    expect(whole.after).toBe(whole.before);
    expect(resumed.after).toBe(resumed.before);
    const steps = (entries: typeof whole.sink.entries, tag: string) =>
      entries.flatMap((e) => (e.type === 'scalar' && e.tag === tag ? [e.step] : e.type === 'histogram' && e.tag === tag ? [e.step] : []));
    // task 3's entries: the same steps in both (12 < step ≤ 18)
    for (const tag of ['loss', 'accuracy/task_3', 'accuracy/average', 'forgetting', 'importance/dense_0/kernel']) {
      expect(steps(resumed.sink.entries, tag), tag).toEqual(steps(whole.sink.entries, tag).filter((s) => s > 12));
    }
    expect(steps(resumed.sink.entries, 'loss')).toEqual([14, 16, 18]);
    const progress = resumed.sink.entries.filter((e): e is ProgressEntry => e.type === 'progress');
    expect(progress.map((e) => e.event.step)).toEqual(progress.map((e) => 12 + e.event.taskStep));
    // forgetting over R[0..2], the rows before the resume included
    const forgetting = resumed.sink.entries.filter((e): e is ScalarEntry => e.type === 'scalar' && e.tag === 'forgetting');
    expect(forgetting).toHaveLength(1);
    expect(forgetting[0]?.value).toBeCloseTo(averageForgetting(resumed.result.accuracy), 12);
    expect(() => loggerPlugin(memorySink(), { stepOffset: -1 })).toThrow('progressLogger: stepOffset must be a non-negative integer, got -1');
  });
});
