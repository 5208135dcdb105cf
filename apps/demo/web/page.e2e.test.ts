/**
 * End-to-end test of the demo page: builds it with Vite, serves `web/dist` on 127.0.0.1, and drives
 * Debian's Chromium headless through playwright-core: a short real experiment (2 permuted tasks,
 * plain SGD and EWC-FIS on the wasm backend), then the accuracy matrices, the live charts, the
 * importance correlation heatmaps and the pruning curves are checked, and Stop is checked to abort a run.
 * A screenshot is written to `web/e2e-output/page.png`. Skipped when /usr/bin/chromium is absent
 * (CI installs it with scripts/install-system-deps.sh).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const HERE = fileURLToPath(new URL('.', import.meta.url));
const DIST = join(HERE, 'dist');
const OUTPUT = join(HERE, 'e2e-output');
const haveChromium = existsSync(CHROMIUM);

if (!haveChromium) {
  console.warn(`demo page e2e: skipped, ${CHROMIUM} is absent (install Debian's chromium: bash scripts/install-system-deps.sh)`);
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gz': 'application/octet-stream',
  '.json': 'application/json',
  '.md': 'text/plain; charset=utf-8',
};

/** A static file server for `root` on 127.0.0.1 and a free port. */
async function serve(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

function buildPage(): void {
  const vite = join(createRequire(import.meta.url).resolve('vite/package.json'), '..', 'bin', 'vite.js');
  const r = spawnSync(process.execPath, [vite, 'build', '--config', join(HERE, 'vite.config.ts')], {
    cwd: join(HERE, '..'),
    env: { ...process.env, NODE_ENV: 'production' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`vite build failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

/** Console errors and uncaught exceptions of a page (its workers included). */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && errors.push(`worker console.error: ${m.text()}`)));
  return errors;
}

/** Ticks exactly the methods in `ids` and sets the numeric fields. */
async function configure(page: Page, ids: string[], fields: Record<string, string>): Promise<void> {
  for (const box of await page.locator('#methods input[type=checkbox]').all()) {
    const id = (await box.getAttribute('id'))?.replace(/^method-/, '') ?? '';
    await box.setChecked(ids.includes(id));
  }
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
}

/** Waits until the page's run ends; fails with the status line on an error. */
async function waitForEnd(page: Page, timeout: number): Promise<string> {
  await page.waitForFunction(() => ['done', 'stopped', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout, polling: 250 });
  const state = (await page.getAttribute('body', 'data-state')) ?? '';
  if (state === 'error') throw new Error(`the page reported: ${await page.textContent('#status')}`);
  return state;
}

/** A number from a Vega mark's ARIA label (`name: 0.75; other: …`; percentages as written). */
function field(label: string, name: string): number {
  const m = new RegExp(`(?:^|; )${name.replace(/[|()]/g, '\\$&')}: (-?[\\d.]+)`).exec(label);
  return m ? Number(m[1]) : Number.NaN;
}

/** The data of a Vega chart's marks, read from the ARIA labels Vega's SVG renderer writes on them. */
async function markLabels(page: Page, chart: string, role: string): Promise<string[]> {
  return page.locator(`${chart} svg [aria-roledescription="${role}"]`).evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
}

describe.skipIf(!haveChromium)('demo page in headless Chromium', () => {
  let server: Server | undefined;
  let url = '';
  let browser: Browser | undefined;

  beforeAll(async () => {
    const t0 = Date.now();
    buildPage();
    console.log(`demo page e2e: vite build ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    ({ server, url } = await serve(DIST));
    // playwright gives every launch a fresh, empty user-data-dir (removed on close)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  const newPage = () => (browser as Browser).newPage({ viewport: { width: 1200, height: 900 } });

  it('runs a short experiment and shows the accuracy matrices, live curves, correlations and pruning', async () => {
    const page = await newPage();
    const errors = collectErrors(page);
    await page.goto(url);
    await configure(page, ['plain', 'ewc-fis'], { 'num-tasks': '2', steps: '100', 'evaluate-every': '25' });
    await page.selectOption('#backend', 'wasm');
    const t0 = Date.now();
    await page.click('#run');
    // the live view: the progress bar moves and the curve chart gets points before the run ends
    await page.waitForFunction(() => (document.querySelector<HTMLProgressElement>('#progress')?.value ?? 0) > 0, undefined, { timeout: 60_000 });
    await page.locator('#chart-curves svg [aria-roledescription="point"]').first().waitFor({ timeout: 60_000 });
    expect(await waitForEnd(page, 120_000)).toBe('done');
    console.log(`demo page e2e: experiment ${((Date.now() - t0) / 1000).toFixed(1)} s, ${await page.textContent('#backend-name')}`);
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'page.png'), fullPage: true });

    // accuracy matrices: R[i][j] for j ≤ i, numbers in [0, 1]; task 0 learnt well above chance (0.1)
    for (const method of ['plain', 'ewc-fis']) {
      const cells = page.locator(`#matrices table[data-method="${method}"] td[data-value]`);
      const values = (await cells.evaluateAll((els) => els.map((e) => [Number(e.getAttribute('data-row')), Number(e.getAttribute('data-col')), Number(e.textContent)]))) as [
        number,
        number,
        number,
      ][];
      expect(values.map(([i, j]) => `${i}${j}`).sort()).toEqual(['00', '10', '11']);
      for (const [, , v] of values) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      const r00 = values.find(([i, j]) => i === 0 && j === 0)?.[2] ?? 0;
      expect(r00, `${method}: accuracy on task 0 after task 0`).toBeGreaterThan(0.5);
    }
    expect(await page.locator('#summary tbody tr').count()).toBe(2);

    // live curves: accuracy on each task seen, every 25 steps within a task (25, 50, 75) and after it, per run
    const points = await markLabels(page, '#chart-curves', 'point');
    const curve = points.map((l) => field(l, 'accuracy'));
    expect(curve.length, 'mid-task points arrived').toBeGreaterThan(2 * 2);
    expect(curve.length).toBe(2 * (4 * 1 + 4 * 2));
    expect(new Set(points.filter((l) => l.includes('task: task 1')).map((l) => field(l, 'step')))).toEqual(new Set([25, 50, 75, 100, 125, 150, 175, 200]));
    for (const a of curve) {
      expect(a).toBeGreaterThanOrEqual(0);
      expect(a).toBeLessThanOrEqual(1);
    }
    expect(await page.locator('#chart-curves svg [aria-roledescription="line mark"]').count()).toBe(2 * 2);
    // average accuracy after each task: 2 runs × 2 tasks
    expect((await markLabels(page, '#chart-average', 'point')).length).toBe(4);

    // paper 3's correlations: FIS, MAS, SI, SIG → 6 pairs + FIS vs MAS², × 2 layers × 2 tasks, r in [−1, 1]
    const rs = (await markLabels(page, '#chart-correlations', 'rect mark')).map((l) => field(l, 'r'));
    expect(rs.length).toBe(7 * 2 * 2);
    for (const r of rs) expect(Math.abs(r)).toBeLessThanOrEqual(1);
    expect(await page.locator('#chart-correlations svg [aria-roledescription="title"]').allTextContents()).toContain('FIS vs MAS');

    // paper 2's pruning experiment: |w|, SIG, FIS, MAS, SI × (5 global + 2 per-layer sparsities), beside the paper
    const measured = (await markLabels(page, '#chart-pruning', 'point'))
      .filter((l) => l.includes('source: measured'))
      .map((l) => ({ importance: /importance: ([^;]+)/.exec(l)?.[1], sparsity: field(l, 'fraction of weights zeroed'), accuracy: field(l, 'test accuracy') }));
    expect(measured.length).toBe(5 * 7);
    for (const imp of ['|w|', 'SIG', 'FIS', 'MAS', 'SI']) {
      const curve = measured.filter((p) => p.importance === imp);
      expect(curve.length, imp).toBe(7);
      for (const p of curve) {
        expect(p.accuracy).toBeGreaterThanOrEqual(0);
        expect(p.accuracy).toBeLessThanOrEqual(1);
      }
    }
    const magnitude = measured.filter((p) => p.importance === '|w|');
    const at97 = magnitude.find((p) => p.sparsity === 97)?.accuracy ?? Number.NaN;
    expect(Math.max(...magnitude.map((p) => p.accuracy)), '|w| pruning keeps the task above chance').toBeGreaterThan(0.5);
    expect(at97).toBeLessThanOrEqual(Math.max(...magnitude.map((p) => p.accuracy)));

    expect(errors).toEqual([]);
    await page.close();
  });

  it('marks a run that diverges (L2 at λ 1e30): "diverged" and — in its row, no accuracy for the tasks after', async () => {
    const page = await newPage();
    const errors = collectErrors(page);
    await page.goto(url);
    await configure(page, ['plain', 'l2'], { 'num-tasks': '2', steps: '20', 'evaluate-every': '10', 'lambda-l2': '1e30' });
    await page.setChecked('#correlations', false);
    await page.setChecked('#pruning', false);
    await page.click('#run');
    expect(await waitForEnd(page, 120_000)).toBe('done');
    const rows = await page.locator('#summary tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')));
    expect(rows).toHaveLength(2);
    const [plain, l2] = rows as [string[], string[]];
    expect(plain[1]).toMatch(/^0\.\d{3}$/);
    expect(l2.slice(0, 4)).toEqual(['l2 λ 1e+30', 'diverged', '—', '—']);
    expect(await page.getAttribute('#summary tbody tr[data-diverged]', 'title')).toMatch(/^diverged at task 2 step \d+ \(loss = /);
    // task 1 was learnt before the divergence (a real accuracy); task 2's row has none
    const matrix = page.locator('#matrices table[data-method="l2"]');
    expect(await matrix.getAttribute('data-diverged')).toBe('true');
    expect(Number(await matrix.locator('td[data-row="0"][data-col="0"]').textContent())).toBeGreaterThan(0.3);
    expect(await matrix.locator('td[data-row="1"]').evaluateAll((tds) => tds.slice(0, 2).map((td) => td.textContent))).toEqual(['—', '—']);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('stops a run when Stop is pressed', async () => {
    const page = await newPage();
    const errors = collectErrors(page);
    await page.goto(url);
    await configure(page, ['plain'], { 'num-tasks': '5', steps: '5000' });
    await page.click('#run');
    await page.waitForFunction(() => (document.querySelector<HTMLProgressElement>('#progress')?.value ?? 0) > 0, undefined, { timeout: 60_000 });
    await page.click('#stop');
    expect(await waitForEnd(page, 30_000)).toBe('stopped');
    expect(await page.textContent('#status')).toContain('Stopped');
    expect(await page.isEnabled('#run')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});
