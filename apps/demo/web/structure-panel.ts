/**
 * The fine-tune section's structural pruning, on the page: the "remove" choice (single weights
 * zeroed, or whole channels removed: a smaller, faster model) and the target (a fraction of the
 * parameters or of the FLOPs), added to the section's Pruning fields; and, after a run, the before /
 * after table of what removing channels bought: parameters, FLOPs, stored bytes, inference and training-step time and
 * old and new test accuracy (structure-job.ts measures them in the worker). The smaller model is
 * the one the section's zip holds.
 */
import type { StructurePruned } from './structure-job.js';

function $<T extends HTMLElement>(selector: string): T {
  const el = document.querySelector<T>(selector);
  if (!el) throw new Error(`page: missing element ${selector}`);
  return el;
}

function select(id: string, options: [string, string][]): HTMLSelectElement {
  const s = document.createElement('select');
  s.id = id;
  for (const [value, text] of options) s.append(new Option(text, value));
  return s;
}

/** Adds the fields beside the sparsity; returns what they say. */
export function structureFields(): { read: () => { kind: 'weights' | 'channels'; target?: 'params' | 'flops' } } {
  const sparsity = $<HTMLInputElement>('#ft-sparsity');
  const sparsityLabel = sparsity.closest('label') as HTMLLabelElement;
  const kind = select('ft-prune-kind', [
    ['weights', 'single weights (zeroed)'],
    ['channels', 'whole channels (a smaller, faster model)'],
  ]);
  const target = select('ft-prune-target', [
    ['params', 'parameters'],
    ['flops', 'FLOPs'],
  ]);
  const kindLabel = Object.assign(document.createElement('label'), {
    title:
      'zero the least important weights (the model keeps its size), or remove whole units, filters and channels through the dependency groups (the model gets smaller and faster)',
  });
  kindLabel.append('remove ', kind);
  const targetLabel = document.createElement('label');
  targetLabel.title = 'remove channels until this share of the parameters (stored size) or of the FLOPs (compute per example) is gone';
  targetLabel.append('% of ', target);
  sparsityLabel.before(kindLabel);
  sparsityLabel.after(targetLabel);
  const words = sparsityLabel.firstChild as Text;
  const sync = () => {
    const channels = kind.value === 'channels';
    targetLabel.hidden = !channels;
    words.textContent = channels ? 'remove % ' : 'sparsity % ';
  };
  kind.addEventListener('change', sync);
  sync();
  return {
    read: () => (kind.value === 'channels' ? { kind: 'channels', target: target.value as 'params' | 'flops' } : { kind: 'weights' }),
  };
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const ms = (t: StructurePruned['before']['inference']) => `${t.median.toFixed(1)} (${t.min.toFixed(1)}–${t.max.toFixed(1)})`;
const int = (n: number) => n.toLocaleString('en');

/** The before / after table, placed after the section's results table. */
export function structureResults(): { show: (r: StructurePruned) => void; reset: () => void } {
  const table = document.createElement('table');
  table.id = 'ft-structure';
  table.hidden = true;
  $('#ft-results').after(table);
  return {
    show: (r) => {
      const what = r.target === 'flops' ? 'FLOPs' : 'parameters';
      const caption = table.createCaption();
      caption.textContent = `Channels removed: ${r.removed} of ${r.removable} channel groups, ${Math.round(r.fraction * 100)} % of the ${what} asked, ranked by ${r.importance === 'magnitude' ? '|w|' : r.importance}`;
      const head = table.createTHead();
      head.replaceChildren();
      const hr = head.insertRow();
      for (const h of ['', 'fine-tuned', 'channels removed', 'after / before']) hr.append(Object.assign(document.createElement('th'), { textContent: h }));
      const body = table.tBodies[0] ?? table.createTBody();
      body.replaceChildren();
      const row = (key: string, label: string, a: string, b: string, va: number, vb: number, ratio = true) => {
        const tr = body.insertRow();
        tr.dataset.measure = key;
        const cells = [label, a, b, ratio && va > 0 ? `×${(vb / va).toFixed(3)}` : ''];
        cells.forEach((c, i) => {
          const td = tr.insertCell();
          td.textContent = c;
          if (i === 1 && Number.isFinite(va)) td.dataset.value = String(va);
          if (i === 2 && Number.isFinite(vb)) td.dataset.value = String(vb);
        });
      };
      const { before: b, after: a } = r;
      row('params', 'parameters', int(b.params), int(a.params), b.params, a.params);
      row('flops', 'FLOPs per example', int(b.flops), int(a.flops), b.flops, a.flops);
      row('bytes', 'stored bytes', int(b.bytes), int(a.bytes), b.bytes, a.bytes);
      row('inference', `inference ms, batch 32 (median of ${b.inference.runs}, min–max)`, ms(b.inference), ms(a.inference), b.inference.median, a.inference.median);
      row('train', `training step ms, batch 32 (median of ${b.trainStep.runs}, min–max)`, ms(b.trainStep), ms(a.trainStep), b.trainStep.median, a.trainStep.median);
      row('old', 'old accuracy', f3(b.metrics.old), f3(a.metrics.old), b.metrics.old, a.metrics.old, false);
      row('new', 'new accuracy', f3(b.metrics.new), f3(a.metrics.new), b.metrics.new, a.metrics.new, false);
      table.hidden = false;
    },
    reset: () => {
      table.hidden = true;
      table.tBodies[0]?.replaceChildren();
    },
  };
}
