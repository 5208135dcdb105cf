/**
 * One colour and one name per method on every chart of the page (live curves, loss, average
 * accuracy, the history's comparison), and the page's own legend: an HTML list of line samples (the
 * method's colour, each task's dash), so no label is clipped by a chart's width.
 */

/** A run's name on the page: the method id, and its λ when it has one (`ewc-fis λ 5`). */
export function runLabel(method: string, lambda: number): string {
  return method === 'plain' || method === 'joint' || method === 'packnet' || method.startsWith('replay') ? method : `${method} λ ${lambda}`;
}

/** Each method's colour (by method id, the part of a run label before ' λ'); contrast ≥ 3:1 on white. */
const METHOD_COLOURS: Record<string, string> = {
  plain: '#1f5fa8',
  'ewc-fis': '#c4262e',
  'ewc-mas': '#b35a00',
  'sewc-fis': '#7b3fb0',
  'wva-sig': '#1e7b34',
  l2: '#7a4a2e',
  lwf: '#b8327f',
  'replay-200': '#555555',
  packnet: '#6d7300',
  joint: '#0e7c86',
};
const SPARE = ['#3d5a80', '#9c4221', '#2f6f4f', '#6b3e75', '#8a6d00'];

export function methodOf(label: string): string {
  return label.split(' ')[0] ?? label;
}

/** The colour of a run label (a label not in the table gets a spare colour, stable by its name). */
export function methodColour(label: string): string {
  const known = METHOD_COLOURS[methodOf(label)];
  if (known) return known;
  let h = 0;
  for (const c of label) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return SPARE[h % SPARE.length] as string;
}

/** Vega-Lite colour scale giving each of `labels` its method's colour. */
export function colourScale(labels: readonly string[]): { domain: string[]; range: string[] } {
  const domain = [...new Set(labels)];
  return { domain, range: domain.map(methodColour) };
}

/** Dash patterns of tasks 1, 2, …: solid, dashed, dotted, dash-dot, … */
const DASHES: number[][] = [
  [1, 0],
  [8, 4],
  [2, 3],
  [10, 3, 2, 3],
  [14, 4],
  [4, 4],
  [1, 5],
  [12, 3, 2, 3, 2, 3],
  [6, 2],
  [3, 6],
];

export function taskDash(index: number): number[] {
  return DASHES[index % DASHES.length] as number[];
}

/** Vega-Lite strokeDash scale for tasks `task 1` … `task n`. */
export function dashScale(tasks: number): { domain: string[]; range: number[][] } {
  const domain = Array.from({ length: Math.max(1, tasks) }, (_, i) => `task ${i + 1}`);
  return { domain, range: domain.map((_, i) => taskDash(i)) };
}

const SVG = 'http://www.w3.org/2000/svg';

function sample(colour: string, dash: number[] | undefined, title: string): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', '36');
  svg.setAttribute('height', '12');
  svg.setAttribute('aria-hidden', 'true');
  const line = document.createElementNS(SVG, 'line');
  for (const [k, v] of Object.entries({ x1: '1', y1: '6', x2: '35', y2: '6', stroke: colour, 'stroke-width': '3' })) line.setAttribute(k, v);
  if (dash && !(dash.length === 2 && dash[1] === 0)) line.setAttribute('stroke-dasharray', dash.join(' '));
  const t = document.createElementNS(SVG, 'title');
  t.textContent = title;
  line.append(t);
  svg.append(line);
  return svg;
}

/**
 * Fills `container` with the legend: one entry per run label (its colour, a solid line) and, with
 * `tasks`, one per task (its dash, in grey). Entries carry `data-method` / `data-task` for tests.
 */
export function renderLegend(container: HTMLElement, labels: readonly string[], tasks = 0, diverged: ReadonlySet<string> = new Set()): void {
  const list = document.createElement('ul');
  list.className = 'legend';
  list.setAttribute('aria-label', 'legend: one colour per method');
  for (const label of new Set(labels)) {
    const li = document.createElement('li');
    li.dataset.method = label;
    li.dataset.colour = methodColour(label);
    const text = diverged.has(label) ? `${label} (diverged)` : label;
    li.append(sample(methodColour(label), undefined, text), Object.assign(document.createElement('span'), { textContent: text }));
    list.append(li);
  }
  const dashes = document.createElement('ul');
  dashes.className = 'legend tasks';
  dashes.setAttribute('aria-label', 'legend: one dash per task');
  for (let i = 0; i < tasks; i++) {
    const li = document.createElement('li');
    li.dataset.task = `task ${i + 1}`;
    li.append(sample('#444', taskDash(i), `task ${i + 1}`), Object.assign(document.createElement('span'), { textContent: `task ${i + 1}` }));
    dashes.append(li);
  }
  container.replaceChildren(list, ...(tasks > 0 ? [dashes] : []));
}
