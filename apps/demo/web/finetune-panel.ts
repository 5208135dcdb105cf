/**
 * The page's "Fine-tune your model" section: the model and the two image folders (picked or
 * dropped), the options with a message beside each field, the request to the worker
 * (finetune-job.ts), and the status of each phase it reports; the results (table, chart,
 * downloads) are finetune-results.ts.
 */
import type { SimdKernelsStatus } from '@forgetless/core';
import { planClasses } from '../src/finetune/classes.js';
import { type FinetuneConfig, defaultFinetuneConfig } from '../src/finetune/config.js';
import { type ImageFolder, type ModelFiles, droppedFiles, imageFolder, inputFiles, listNames, modelFiles } from './finetune-files.js';
import { finetuneResults } from './finetune-results.js';
import { kernelsText } from './kernels-info.js';
import type { BackendChoice, ThreadsChoice, FinetunePruning, FinetuneRequest, FromWorker, ImageInput, ImagePart, ModelInfo, PathBlob, ToWorker } from './protocol.js';
import { structureFields } from './structure-panel.js';
import { pageWording } from './wording.js';

/** The methods offered, with a starting λ for a pretrained model fine-tuned with Adam (the core README's measurements: EWC 1000–3000 with batch norm frozen). */
const METHODS: { id: string; text: string; lambda: number }[] = [
  { id: 'ewc-fis', text: 'EWC, Fisher', lambda: 1000 },
  { id: 'ewc-mas', text: 'EWC, MAS', lambda: 1000 },
  { id: 'sewc-fis', text: 'stabilised EWC, Fisher', lambda: 1000 },
  { id: 'sewc-mas', text: 'stabilised EWC, MAS', lambda: 1000 },
  { id: 'wva-fis', text: 'WVA, Fisher', lambda: 1000 },
  { id: 'wva-sig', text: 'WVA, SIG', lambda: 1000 },
  { id: 'wva-mas', text: 'WVA, MAS', lambda: 1000 },
  { id: 'plain', text: 'plain fine-tuning only', lambda: 0 },
];

type Field = 'model' | 'old' | 'new' | 'lambda' | 'epochs' | 'lr' | 'batch' | 'test-fraction' | 'sparsity';

function $<T extends HTMLElement>(selector: string): T {
  const el = document.querySelector<T>(selector);
  if (!el) throw new Error(`page: missing element ${selector}`);
  return el;
}

/** Sets up the section; `worker()` gives the page's worker. Returns the handler of the worker's fine-tune messages. */
export function setupFinetunePanel(
  worker: () => Worker,
  backend: () => BackendChoice,
  threads: () => ThreadsChoice = () => 'auto',
): { onMessage: (msg: FromWorker) => Promise<boolean> } {
  const section = $<HTMLElement>('#finetune');
  const form = $<HTMLFormElement>('#ft-form');
  const runButton = $<HTMLButtonElement>('#ft-run');
  const stopButton = $<HTMLButtonElement>('#ft-stop');
  const progress = $<HTMLProgressElement>('#ft-progress');
  const statusText = $<HTMLSpanElement>('#ft-status');
  const method = $<HTMLSelectElement>('#ft-method');
  for (const m of METHODS) method.append(new Option(`${m.text} (${m.id})`, m.id, m.id === 'ewc-fis', m.id === 'ewc-fis'));
  method.addEventListener('change', () => {
    const m = METHODS.find((x) => x.id === method.value);
    const lambda = $<HTMLInputElement>('#ft-lambda');
    lambda.value = String(m?.lambda ?? 0);
    lambda.disabled = method.value === 'plain';
  });

  let model: ModelFiles | undefined;
  let info: ModelInfo | undefined;
  let canDecode = true;
  let inspectId = 0;
  let old: ImageFolder | undefined;
  let neu: ImageFolder | undefined;
  const results = finetuneResults();
  /** forgetless's SIMD kernels in the worker, as the last fine-tuning left them. */
  let kernels: SimdKernelsStatus | undefined;
  const structure = structureFields();

  const setError = (field: Field, message: string) => {
    $(`#ft-${field}-error`).textContent = message;
    const input = document.querySelector<HTMLInputElement>(`#ft-${field}`);
    if (input) input.setAttribute('aria-invalid', message ? 'true' : 'false');
  };
  const setInfo = (field: 'model' | 'old' | 'new', text: string) => {
    $(`#ft-${field}-info`).textContent = text;
  };
  const setState = (state: 'idle' | 'running' | 'done' | 'stopped' | 'error') => {
    section.dataset.state = state;
    runButton.disabled = state === 'running';
    stopButton.disabled = state !== 'running';
  };

  /** The class plan's message beside the old or new data (the model's outputs against the folders). */
  const checkClasses = (): boolean => {
    if (!info || !old || !neu) return true;
    try {
      planClasses({
        head: $<HTMLSelectElement>('#ft-head').value as 'keep' | 'extend' | 'replace',
        outputWidth: info.outputWidth,
        oldNames: old.classNames,
        newNames: neu.classNames,
        ...(model?.labels ? { modelClasses: model.labels.names } : {}),
        oldWhere: 'old data',
        newWhere: 'new data',
      });
      setError('old', '');
      setError('new', '');
      return true;
    } catch (e) {
      const message = pageWording((e as Error).message);
      setError(message.startsWith('new data') ? 'new' : message.startsWith('old data') ? 'old' : 'model', message);
      return false;
    }
  };

  const takeModel = async (files: PathBlob[]) => {
    model = undefined;
    info = undefined;
    setInfo('model', '');
    setError('model', '');
    try {
      model = await modelFiles(files);
    } catch (e) {
      setError('model', (e as Error).message);
      return;
    }
    if (model.missing.length) {
      setError('model', `${model.name} lists ${listNames(model.missing)}, not picked: pick model.json together with its .bin files`);
    }
    setInfo('model', `${model.name} + ${model.shards.length} shard${model.shards.length === 1 ? '' : 's'}; reading…`);
    worker().postMessage({ type: 'inspect-model', id: ++inspectId, modelJson: model.json, name: model.name } satisfies ToWorker);
  };

  const takeImages = (field: 'old' | 'new', files: PathBlob[]) => {
    setError(field, '');
    setInfo(field, '');
    let folder: ImageFolder | undefined;
    try {
      folder = imageFolder(files);
    } catch (e) {
      setError(field, (e as Error).message);
    }
    if (field === 'old') old = folder;
    else neu = folder;
    if (!folder) return;
    const layout = folder.test ? `train/ ${folder.train.length} + test/ ${folder.test.length} images` : `${folder.images} images`;
    setInfo(field, `${folder.name}: ${folder.classNames.length} classes (${listNames(folder.classNames)}), ${layout}`);
    checkClasses();
  };

  // the inputs, and their drop zones
  $<HTMLInputElement>('#ft-model').addEventListener('change', (e) => void takeModel(inputFiles(e.target as HTMLInputElement)));
  $<HTMLInputElement>('#ft-old').addEventListener('change', (e) => takeImages('old', inputFiles(e.target as HTMLInputElement)));
  $<HTMLInputElement>('#ft-new').addEventListener('change', (e) => takeImages('new', inputFiles(e.target as HTMLInputElement)));
  $<HTMLSelectElement>('#ft-head').addEventListener('change', () => checkClasses());
  for (const zone of document.querySelectorAll<HTMLElement>('#finetune .drop')) {
    zone.addEventListener('dragover', (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      if (!e.dataTransfer) return;
      const field = zone.dataset.field as 'model' | 'old' | 'new';
      droppedFiles(e.dataTransfer)
        .then((files) => (field === 'model' ? takeModel(files) : takeImages(field, files)))
        .catch((err: unknown) => setError(field, `could not read the drop (${(err as Error).message})`));
    });
  }

  /** A number field, checked; undefined (and the message beside it) when bad. */
  const numberField = (field: Field, check: (v: number) => string | undefined): number | undefined => {
    const input = $<HTMLInputElement>(`#ft-${field}`);
    const v = Number(input.value);
    const problem = input.value.trim() === '' || !Number.isFinite(v) ? 'enter a number' : check(v);
    setError(field, problem ?? '');
    return problem ? undefined : v;
  };

  /** The request from the form, or undefined with a message beside every bad field. */
  const readForm = () => {
    const chosen = method.value;
    const lambda = chosen === 'plain' ? 0 : numberField('lambda', (v) => (v < 0 ? 'λ must be ≥ 0' : undefined));
    const epochs = numberField('epochs', (v) => (Number.isInteger(v) && v >= 1 && v <= 100 ? undefined : 'a whole number from 1 to 100'));
    const lr = numberField('lr', (v) => (v > 0 && v <= 1 ? undefined : 'a learning rate above 0 and at most 1'));
    const batch = numberField('batch', (v) => (Number.isInteger(v) && v >= 1 && v <= 1024 ? undefined : 'a whole number from 1 to 1024'));
    const testFraction = numberField('test-fraction', (v) => (v > 0 && v < 1 ? undefined : 'a fraction above 0 and below 1'));
    const pruneOn = $<HTMLInputElement>('#ft-prune').checked;
    const sparsity = pruneOn ? numberField('sparsity', (v) => (v >= 1 && v <= 99 ? undefined : 'a percentage from 1 to 99')) : 0;
    if (!pruneOn) setError('sparsity', '');
    if (!model) setError('model', 'pick or drop model.json and its .bin shards');
    else if (!info && !$('#ft-model-error').textContent) setError('model', 'the model is still being read');
    if (!old && !$('#ft-old-error').textContent) setError('old', 'pick or drop the folder of old images');
    if (!neu && !$('#ft-new-error').textContent) setError('new', 'pick or drop the folder of new images');
    const classesOk = checkClasses();
    const values = [lambda, epochs, lr, batch, testFraction, sparsity];
    if (!model || model.missing.length || !info || !old || !neu || !classesOk || values.some((v) => v === undefined)) return undefined;
    const config: FinetuneConfig = {
      ...defaultFinetuneConfig(),
      variants: chosen === 'plain' ? [{ method: 'plain', lambdas: [0] }] : [{ method: chosen, lambdas: [lambda as number] }],
      learningRate: lr as number,
      epochs: epochs as number,
      batchSize: batch as number,
      head: $<HTMLSelectElement>('#ft-head').value as 'keep' | 'extend' | 'replace',
      batchNorm: $<HTMLSelectElement>('#ft-batch-norm').value as 'frozen' | 'train',
    };
    return {
      model,
      info,
      old,
      neu,
      config,
      preprocessing: $<HTMLSelectElement>('#ft-preprocess').value,
      testFraction: testFraction as number,
      ...(pruneOn
        ? {
            pruning: {
              sparsity: (sparsity as number) / 100,
              importance: $<HTMLSelectElement>('#ft-prune-importance').value as FinetunePruning['importance'],
              ...structure.read(),
            },
          }
        : {}),
    };
  };

  /** The images as the worker takes them: files (decoded there), or decoded here when the worker cannot. */
  const imagePart = async (folder: ImageFolder, shape: (number | null)[], transfer: Transferable[]): Promise<ImagePart> => {
    const input = async (files: PathBlob[], classNames?: string[]): Promise<ImageInput> => {
      if (canDecode) return { files };
      const { decodeImageBlobs } = await import('@forgetless/datasets');
      const set = await decodeImageBlobs(files, {
        size: [shape[0] as number, shape[1] as number],
        channels: shape[2] === 1 ? 1 : 3,
        fit: 'stretch',
        ...(classNames ? { classNames } : {}),
      });
      transfer.push(set.x.buffer);
      return { decoded: { x: set.x, y: set.y, exampleShape: set.exampleShape, classNames: set.classNames, files: set.files, skipped: set.skipped } };
    };
    return { name: folder.name, train: await input(folder.train), ...(folder.test ? { test: await input(folder.test, folder.classNames) } : {}) };
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const read = readForm();
    if (!read) {
      statusText.textContent = 'Fix the fields marked in red.';
      return;
    }
    results.reset();
    progress.value = 0;
    setState('running');
    statusText.textContent = 'reading the files…';
    (async () => {
      const transfer: Transferable[] = [];
      const shards = await Promise.all(read.model.shards.map(async (s) => ({ path: s.path, data: await s.file.arrayBuffer() })));
      transfer.push(...shards.map((s) => s.data));
      const request: FinetuneRequest = {
        modelJson: read.model.json,
        modelName: read.model.name,
        shards,
        ...(read.model.labels ? { classNames: read.model.labels.names } : {}),
        old: await imagePart(read.old, read.info.inputShape, transfer),
        new: await imagePart(read.neu, read.info.inputShape, transfer),
        config: read.config,
        preprocessing: read.preprocessing,
        testFraction: read.testFraction,
        ...(read.pruning ? { pruning: read.pruning } : {}),
        backend: backend(),
        threads: threads(),
      };
      worker().postMessage({ type: 'finetune', request } satisfies ToWorker, transfer);
    })().catch((err: unknown) => {
      statusText.textContent = `Error: ${(err as Error).message}`;
      setState('error');
    });
  });
  stopButton.addEventListener('click', () => {
    worker().postMessage({ type: 'stop' } satisfies ToWorker);
    statusText.textContent = 'stopping…';
  });

  setState('idle');
  return {
    onMessage: async (msg) => {
      switch (msg.type) {
        case 'model-info':
          if (msg.id !== inspectId || !model) return true;
          canDecode = msg.canDecode;
          if (msg.error) {
            setError('model', msg.error);
            setInfo('model', '');
          } else if (msg.info) {
            info = msg.info;
            const shape = info.inputShape.map((d) => d ?? 'any').join('×');
            const labels = model.labels ? `; outputs named by ${model.labels.file} (${listNames(model.labels.names)})` : '';
            setInfo('model', `${model.name}: input ${shape}, ${info.outputWidth} outputs, ${info.layers} layers, ${info.weights.toLocaleString('en')} weights${labels}`);
            checkClasses();
          }
          return true;
        case 'finetune-status':
          statusText.textContent = msg.status.text;
          // forward only; the phase named, and said to screen readers when it changes (not every step)
          progress.value = Math.max(progress.value, msg.status.fraction);
          if ($('#ft-phase').textContent !== msg.status.phase) {
            $('#ft-phase').textContent = msg.status.phase;
            $('#ft-announcer').textContent = `${msg.status.phase}…`;
          }
          return true;
        case 'finetune-run':
          await results.run(msg.record, msg.before, msg.config, msg.classNames);
          return true;
        case 'kernels':
          if (section.dataset.state !== 'running') return false;
          kernels = msg.status;
          section.dataset.simdKernels = JSON.stringify(msg.status);
          return true;
        case 'finetune-done':
          if (msg.cancelled || !msg.result) {
            statusText.textContent = 'Stopped.';
            $('#ft-phase').textContent = 'stopped';
            $('#ft-announcer').textContent = 'Stopped.';
            setState('stopped');
            return true;
          }
          progress.value = 1;
          results.done(msg, { model: model?.name, old: old?.name, new: neu?.name });
          statusText.textContent = `Done in ${(msg.ms / 1000).toFixed(1)} s on ${msg.result.backend}${(msg.result.threads ?? 1) > 1 ? ` (${msg.result.threads} threads)` : ''}${kernels && kernelsText(kernels) ? `, ${kernelsText(kernels)}` : ''}${
            msg.skipped.length ? `; ${msg.skipped.length} unreadable image${msg.skipped.length === 1 ? '' : 's'} skipped` : ''
          }.`;
          $('#ft-phase').textContent = 'done';
          $('#ft-announcer').textContent = statusText.textContent;
          setState('done');
          return true;
        case 'finetune-error':
          if (msg.field && msg.field !== 'options') setError(msg.field, msg.message);
          statusText.textContent = `Error: ${msg.message}`;
          $('#ft-phase').textContent = 'error';
          $('#ft-announcer').textContent = statusText.textContent;
          setState('error');
          return true;
        default:
          return false;
      }
    },
  };
}
