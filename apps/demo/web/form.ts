/**
 * The experiment form: the methods offered, each field checked as it is filled with the message
 * beside it (naming the field as the page labels it), and the form read into the runner's
 * ExperimentConfig (the same shape `forgetless run` builds from its flags).
 */
import { type ExperimentConfig, type HeadChoice, type Scenario, type SequenceName, effectiveScenario } from '@forgetless/experiments';
import type { PruningConfig } from '@forgetless/experiments';
import type { BackendChoice, RunRequest, ThreadsChoice } from './protocol.js';

/**
 * The methods offered (ids of the runner's registry, as the CLI spells them) with a default λ for
 * this page's short runs: 784-100-10 MLP, SGD lr 0.1. Plain EWC diverges here once η·λ·I > 1
 * (λ ≈ 14 for FIS); stabilised EWC does not.
 */
export const METHOD_CHOICES: { id: string; text: string; lambda?: number; checked: boolean }[] = [
  { id: 'plain', text: 'plain SGD', checked: true },
  { id: 'ewc-fis', text: 'EWC, Fisher', lambda: 5, checked: true },
  { id: 'ewc-mas', text: 'EWC, MAS', lambda: 3, checked: false },
  { id: 'sewc-fis', text: 'stabilised EWC, Fisher', lambda: 100, checked: false },
  { id: 'wva-sig', text: 'WVA, SIG', lambda: 250, checked: false },
  { id: 'l2', text: 'L2 to the last task', lambda: 0.01, checked: false },
  { id: 'lwf', text: 'LwF (distillation)', lambda: 1, checked: false },
  { id: 'replay-200', text: 'replay, 200 examples', checked: false },
  { id: 'packnet', text: 'PackNet', checked: false },
  { id: 'joint', text: 'joint training (upper bound)', checked: false },
];

/** A numeric field: its id, its name in the page's words, and what it accepts. */
interface NumberField {
  id: string;
  name: string;
  min: number;
  /** `min` itself refused (a learning rate of 0). */
  minExclusive?: boolean;
  max?: number;
  integer: boolean;
}

export const NUMBER_FIELDS: NumberField[] = [
  { id: 'num-tasks', name: 'tasks', min: 2, max: 10, integer: true },
  { id: 'steps', name: 'steps per task', min: 1, max: 5000, integer: true },
  { id: 'batch', name: 'batch size', min: 1, max: 1000, integer: true },
  { id: 'evaluate-every', name: 'evaluate every N steps', min: 1, max: 5000, integer: true },
  { id: 'lr', name: 'learning rate', min: 0, minExclusive: true, integer: false },
];

/** Split Fashion-MNIST: 10 classes, 2 per task. */
const SPLIT_MAX_TASKS = 5;

function $<T extends HTMLElement>(selector: string): T {
  const el = document.querySelector<T>(selector);
  if (!el) throw new Error(`page: missing element ${selector}`);
  return el;
}

const input = (id: string) => $<HTMLInputElement>(`#${id}`);

export function buildMethodControls(): void {
  const box = $<HTMLFieldSetElement>('#methods');
  for (const m of METHOD_CHOICES) {
    const row = document.createElement('div');
    row.className = 'method';
    const check = Object.assign(document.createElement('input'), { type: 'checkbox', id: `method-${m.id}`, checked: m.checked });
    const label = Object.assign(document.createElement('label'), { htmlFor: check.id, textContent: m.text, title: m.id });
    row.append(check, label);
    if (m.lambda !== undefined) {
      const lambda = Object.assign(document.createElement('input'), { type: 'number', id: `lambda-${m.id}`, min: '0', step: 'any', value: String(m.lambda) });
      lambda.inputMode = 'decimal';
      lambda.setAttribute('aria-label', `λ of ${m.text}`);
      lambda.setAttribute('aria-describedby', `lambda-${m.id}-error`);
      const error = Object.assign(document.createElement('span'), { className: 'field-error', id: `lambda-${m.id}-error` });
      row.append(lambda, error);
    }
    box.append(row);
  }
  const error = Object.assign(document.createElement('span'), { className: 'field-error', id: 'methods-error' });
  box.append(error);
}

/** The message for a numeric field's text, '' when it is fine. */
function numberMessage(f: NumberField, text: string): string {
  const v = Number(text);
  const range = f.max !== undefined ? `from ${f.min} to ${f.max}` : f.minExclusive ? `above ${f.min}` : `of at least ${f.min}`;
  const kind = f.integer ? 'a whole number' : 'a number';
  if (text.trim() === '' || !Number.isFinite(v)) return `${f.name}: enter ${kind} ${range}${text.trim() ? ` ('${text}' is not one)` : ''}`;
  if (f.integer && !Number.isInteger(v)) return `${f.name}: enter a whole number ${range} (${text} is not whole)`;
  if (v < f.min || (f.minExclusive && v === f.min) || (f.max !== undefined && v > f.max)) return `${f.name}: enter ${kind} ${range} (got ${text})`;
  return '';
}

function show(id: string, message: string, control?: HTMLElement): void {
  $(`#${id}-error`).textContent = message;
  if (control) {
    if (message) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  }
}

/** Checks every field, writes each message beside its field; returns the messages (empty: the form is fine). */
export function checkForm(): string[] {
  const messages: string[] = [];
  const note = (id: string, message: string, control?: HTMLElement) => {
    show(id, message, control);
    if (message) messages.push(message);
  };
  for (const f of NUMBER_FIELDS) note(f.id, numberMessage(f, input(f.id).value), input(f.id));
  // split: 10 classes in pairs make 5 tasks at most; refused here rather than silently cut to 5
  const sequence = $<HTMLSelectElement>('#sequence').value;
  const tasks = Number(input('num-tasks').value);
  if (!$('#num-tasks-error').textContent && sequence === 'split' && tasks > SPLIT_MAX_TASKS) {
    note(
      'num-tasks',
      `tasks: split classes makes at most ${SPLIT_MAX_TASKS} tasks (the 10 classes in pairs); enter 2 to ${SPLIT_MAX_TASKS}, or pick permuted or rotated for ${tasks}`,
      input('num-tasks'),
    );
  }
  // the head must suit the scenario: one head per task needs the task label, a growing head the class-incremental case
  const head = $<HTMLSelectElement>('#head').value as HeadChoice;
  const chosenScenario = $<HTMLSelectElement>('#scenario').value as Scenario | '';
  const scenarioNow = effectiveScenario({
    dataset: 'embedded',
    sequence: sequence as SequenceName,
    ...(sequence !== 'rotated' && chosenScenario ? { scenario: chosenScenario } : {}),
  });
  const headMessage =
    head === 'multi' && scenarioNow !== 'task'
      ? 'head: one head per task needs the task-incremental scenario (the task label at test)'
      : head === 'grow' && scenarioNow !== 'class'
        ? 'head: a growing head needs the class-incremental scenario'
        : '';
  note('head', headMessage, $<HTMLSelectElement>('#head'));
  const picked = METHOD_CHOICES.filter((m) => input(`method-${m.id}`).checked);
  note('methods', picked.length === 0 ? 'methods: tick at least one method' : '');
  for (const m of METHOD_CHOICES) {
    if (m.lambda === undefined) continue;
    const el = input(`lambda-${m.id}`);
    const v = Number(el.value);
    const bad = input(`method-${m.id}`).checked && (el.value.trim() === '' || !Number.isFinite(v) || v < 0);
    note(`lambda-${m.id}`, bad ? `λ of ${m.text}: enter a number of at least 0${el.value.trim() ? ` (got ${el.value})` : ''}` : '', el);
  }
  return messages;
}

/** The form as a request (call checkForm first). */
/** The wasm threads chosen (`#threads`): `auto` or a count. */
export function readThreads(): ThreadsChoice {
  const v = $<HTMLSelectElement>('#threads').value;
  return v === 'auto' ? 'auto' : Number(v);
}

export function readRequest(): RunRequest {
  const variants = METHOD_CHOICES.filter((m) => input(`method-${m.id}`).checked).map((m) => ({
    method: m.id,
    lambdas: [m.lambda === undefined ? 0 : Number(input(`lambda-${m.id}`).value)],
  }));
  const backend = $<HTMLSelectElement>('#backend').value as BackendChoice;
  const sequence = $<HTMLSelectElement>('#sequence').value as SequenceName;
  const numTasks = Number(input('num-tasks').value);
  const chosen = $<HTMLSelectElement>('#scenario').value as Scenario | '';
  // rotated tasks share their labels: domain-incremental only
  const scenario = sequence === 'rotated' ? undefined : chosen || undefined;
  const head = $<HTMLSelectElement>('#head').value as HeadChoice;
  const config: ExperimentConfig = {
    name: 'browser',
    data: { dataset: 'embedded', sequence, numTasks, seed: 0, ...(scenario ? { scenario } : {}) },
    // multi: one head per task (task-incremental); grow: a head that grows with the classes (class-incremental)
    ...(head !== 'shared' ? { head } : {}),
    // permuted task- and class-incremental: task t's labels are 10t..10t+9, one output per label
    model: sequence === 'permuted' && scenario && scenario !== 'domain' ? `784-100-${10 * numTasks}` : '784-100-10',
    optimizer: 'sgd',
    learningRate: Number(input('lr').value),
    iterations: Number(input('steps').value),
    batchSize: Number(input('batch').value),
    seeds: [0],
    variants,
    importanceLimit: 1000,
    evalLimit: 1000,
    evaluateEvery: Number(input('evaluate-every').value),
    // the page activates its backend itself; the config names the CLI's backends only
    backend: backend === 'cpu' ? 'cpu' : 'wasm',
    correlations: input('correlations').checked,
  };
  // paper 2's pruning experiment, scaled to the page: one task, one epoch, the same model and optimizer
  const pruning: PruningConfig = {
    model: config.model,
    optimizer: config.optimizer,
    learningRate: config.learningRate,
    epochs: 1,
    batchSize: config.batchSize,
    seed: 0,
    calibration: config.importanceLimit,
    methods: ['magnitude', 'sig', 'fisher', 'mas', 'si'],
    ...(config.evalLimit !== undefined ? { evalLimit: config.evalLimit } : {}),
  };
  return {
    config,
    backend,
    threads: readThreads(),
    dataUrl: new URL(`${import.meta.env.BASE_URL}fashion-mnist-subset/`, location.href).href,
    ...(input('pruning').checked ? { pruning } : {}),
  };
}
