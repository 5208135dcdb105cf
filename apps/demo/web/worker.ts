/**
 * The page's worker. The experiment: loads the embedded Fashion-MNIST subset from the page's static files
 * (SHA-256 checked), runs the page's experiment with the demo's runner (`runExperiment`, the same
 * one the CLI drives) on the chosen backend, forwards its events, then paper 2's pruning experiment
 * on the first task (`runPruning`, the CLI's pruning preset). The fine-tuning of a picked model
 * (finetune-job.ts). Stop aborts either through an AbortSignal.
 */
import { type Task, simdKernelsStatus } from '@forgetless/core';
import { EMBEDDED_SOURCE, type MnistFormatDataset, fetchMnistFormat } from '@forgetless/datasets';
import { buildTasks, runExperiment, runPruning, validateConfig } from '@forgetless/experiments';
import { activateBackend } from './backend.js';
import { FieldError, canDecodeImages, inspectModel, runFinetuneJob } from './finetune-job.js';
import type { FromWorker, RunRequest, ToWorker } from './protocol.js';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const send = (m: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);
/** Posts to the page; a run's or a fine-tuning's end is preceded by the SIMD kernels' status (what served the ops in this worker). */
const post = (m: FromWorker, transfer: Transferable[] = []): void => {
  if (m.type === 'done' || m.type === 'finetune-done') send({ type: 'kernels', status: simdKernelsStatus() });
  send(m, transfer);
};

let controller: AbortController | undefined;
let dataset: { url: string; data: MnistFormatDataset } | undefined;

async function loadData(url: string): Promise<MnistFormatDataset> {
  if (dataset?.url === url) return dataset.data;
  post({ type: 'status', text: 'loading the embedded Fashion-MNIST subset…' });
  const data = await fetchMnistFormat({ ...EMBEDDED_SOURCE, baseUrl: url });
  dataset = { url, data };
  return data;
}

async function run(request: RunRequest, signal: AbortSignal): Promise<void> {
  const t0 = performance.now();
  post({ type: 'status', text: `starting the ${request.backend} backend…` });
  const backend = await activateBackend(request.backend, request.threads);
  post({ type: 'backend', ...backend });
  const config = validateConfig(request.config);
  const data = await loadData(request.dataUrl);
  const tasks = buildTasks(config.data, [data]);
  post({ type: 'tasks', names: tasks.map((t) => t.name) });
  const result = await runExperiment(config, { tasks, signal, onEvent: (event) => post({ type: 'experiment', event }) });
  if (request.pruning && !result.cancelled && !signal.aborted) {
    const task = tasks[0] as Task;
    post({ type: 'status', text: `pruning experiment on ${task.name}…` });
    try {
      const pruned = await runPruning(request.pruning, { task, signal, onEvent: (event) => post({ type: 'pruning-event', event }) });
      post({ type: 'pruning', result: pruned });
    } catch (e) {
      if (!signal.aborted) throw e; // stopped: runPruning throws on abort
    }
  }
  post({ type: 'done', cancelled: result.cancelled || signal.aborted, ms: performance.now() - t0 });
}

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.type === 'stop') {
    controller?.abort();
    return;
  }
  if (msg.type === 'inspect-model') {
    inspectModel(msg.modelJson, msg.name)
      .then((info) => post({ type: 'model-info', id: msg.id, info, canDecode: canDecodeImages() }))
      .catch((err: unknown) => post({ type: 'model-info', id: msg.id, error: err instanceof Error ? err.message : String(err), canDecode: canDecodeImages() }));
    return;
  }
  if (controller) {
    const message = 'a run is already in progress: stop it first';
    post(msg.type === 'finetune' ? { type: 'finetune-error', message } : { type: 'error', message });
    return;
  }
  const c = new AbortController();
  controller = c;
  const job =
    msg.type === 'run'
      ? run(msg.request, c.signal).catch((err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err) }))
      : runFinetuneJob(msg.request, c.signal, post).catch((err: unknown) =>
          post({ type: 'finetune-error', message: err instanceof Error ? err.message : String(err), ...(err instanceof FieldError ? { field: err.field } : {}) }),
        );
  job.finally(() => {
    if (controller === c) controller = undefined;
  });
};
