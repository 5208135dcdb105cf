/**
 * The form in the page's address (`?methods=plain,ewc-fis&lambda.ewc-fis=5&tasks=3&…`): every change
 * rewrites it (history.replaceState, no new history entry), so the address can be shared, and a
 * reload or a shared link fills the form back in. Values are put back as they were written; the
 * form's checks then say what is wrong with them, beside the field.
 */
import { METHOD_CHOICES } from './form.js';

/** Query key → the id of the form control it restores. */
const CONTROLS: Record<string, string> = {
  sequence: 'sequence',
  scenario: 'scenario',
  head: 'head',
  tasks: 'num-tasks',
  steps: 'steps',
  batch: 'batch',
  every: 'evaluate-every',
  lr: 'lr',
  backend: 'backend',
  threads: 'threads',
  correlations: 'correlations',
  pruning: 'pruning',
  smoothing: 'smoothing',
};

function control(id: string): HTMLInputElement | HTMLSelectElement | null {
  return document.querySelector<HTMLInputElement | HTMLSelectElement>(`#${id}`);
}

/** The form as query parameters. */
export function formToParams(): URLSearchParams {
  const p = new URLSearchParams();
  const methods = METHOD_CHOICES.filter((m) => (control(`method-${m.id}`) as HTMLInputElement | null)?.checked);
  p.set('methods', methods.map((m) => m.id).join(','));
  for (const m of methods) {
    const lambda = control(`lambda-${m.id}`);
    if (lambda) p.set(`lambda.${m.id}`, lambda.value);
  }
  for (const [key, id] of Object.entries(CONTROLS)) {
    const el = control(id);
    if (!el) continue;
    p.set(key, el instanceof HTMLInputElement && el.type === 'checkbox' ? (el.checked ? '1' : '0') : el.value);
  }
  return p;
}

/** Fills the form from `params` (keys absent keep the form's defaults); returns whether any key was applied. */
export function paramsToForm(params: URLSearchParams): boolean {
  let applied = false;
  const methods = params.get('methods');
  if (methods !== null) {
    const ids = new Set(methods.split(',').filter(Boolean));
    for (const m of METHOD_CHOICES) {
      const box = control(`method-${m.id}`) as HTMLInputElement | null;
      if (box) box.checked = ids.has(m.id);
    }
    applied = true;
  }
  for (const m of METHOD_CHOICES) {
    const v = params.get(`lambda.${m.id}`);
    const el = control(`lambda-${m.id}`);
    if (v !== null && el) {
      el.value = v;
      applied = true;
    }
  }
  for (const [key, id] of Object.entries(CONTROLS)) {
    const v = params.get(key);
    const el = control(id);
    if (v === null || !el) continue;
    if (el instanceof HTMLInputElement && el.type === 'checkbox') el.checked = v === '1';
    else if (el instanceof HTMLSelectElement) {
      if ([...el.options].some((o) => o.value === v)) el.value = v;
    } else el.value = v;
    applied = true;
  }
  return applied;
}

/** Keeps the address in step with `form` (and any control outside it named in CONTROLS). */
export function syncUrl(form: HTMLFormElement, extra: HTMLElement[] = []): void {
  const write = () => {
    const url = new URL(location.href);
    url.search = formToParams().toString();
    history.replaceState(history.state, '', url);
  };
  for (const el of [form, ...extra]) {
    el.addEventListener('input', write);
    el.addEventListener('change', write);
  }
}
