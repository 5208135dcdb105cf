/**
 * End-to-end test of the demo page (built by globalSetup, e2e-setup.ts): serves `web/dist` on 127.0.0.1, and drives
 * Debian's Chromium headless through playwright-core: a short real experiment (2 permuted tasks,
 * plain SGD and EWC-FIS on the wasm backend), then the accuracy matrices, the live charts, the
 * importance correlation heatmaps and the pruning curves are checked, and Stop is checked to abort a run.
 * Fine-tuning: the shipped example model and PNG folders written at test time are set on the
 * section's inputs, EWC-FIS with the head extended fine-tunes it (pruned 50 % by |w|), the zip is
 * downloaded and its model.json + shards are loaded with stock tfjs-layers, whose accuracy on the new
 * test images must equal what the page reported for the downloaded model; and channels removed after
 * fine-tuning (a smaller model, its before/after table, a zip with the smaller shapes). A screenshot is written to `web/e2e-output/page.png`. Skipped when /usr/bin/chromium is absent
 * (CI installs it with scripts/install-system-deps.sh).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, relative } from 'node:path';
import type { SimdKernelsStatus } from '@forgetless/core';
import { planImages, splitIndices } from '@forgetless/datasets';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { unzipSync } from 'fflate';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST, OUTPUT, collectErrors, configure, field, haveChromium, launchChromium, markLabels, serve, waitForEnd } from './e2e.test-util.js';
import { CLASS_NAMES, type Fixture, pngInput, writeFixture } from './finetune-fixture.test-util.js';

describe.skipIf(!haveChromium)('demo page in headless Chromium', () => {
  let server: Server | undefined;
  let url = '';
  let browser: Browser | undefined;
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await writeFixture(join(OUTPUT, 'finetune-fixture'));
    ({ server, url } = await serve(DIST));
    browser = await launchChromium();
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
    // the worker's SIMD kernels: bound and active; an MLP has none of the layers they serve (convolutions, ReLU6,
    // batch norm): its SGD update runs on them (one call per variable and step), its dense layers' gradients
    // (∂W, and ∂x above the first layer, on the 1×1 convolution kernels) and SIG's mean |input| per unit (the
    // correlations' SIG: one tap_abs_sums call per layer and batch), nothing else
    const kernels = JSON.parse((await page.getAttribute('#backend-name', 'data-simd-kernels')) ?? 'null') as SimdKernelsStatus | null;
    expect(kernels, 'the worker reported its SIMD kernels').toMatchObject({ active: true, state: 'active', variant: 'single-thread' });
    const calls = kernels?.calls ?? {};
    console.log(`demo page e2e: SIMD kernel calls of the MLP run ${JSON.stringify(calls)}`);
    expect(calls.sgd_update ?? 0).toBeGreaterThan(0);
    expect(calls.pw_filter_grad ?? 0).toBeGreaterThan(0);
    expect(calls.pw_input_grad ?? 0).toBeGreaterThan(0);
    expect(calls.tap_abs_sums ?? 0).toBeGreaterThan(0);
    const mlpKernels = new Set(['sgd_update', 'pw_filter_grad', 'pw_input_grad', 'tap_abs_sums']);
    expect(Object.entries(calls).filter(([name, n]) => !mlpKernels.has(name) && n > 0)).toEqual([]);
    const total = Object.values(calls).reduce((a, b) => a + b, 0);
    expect(await page.textContent('#backend-name')).toBe(`backend: wasm · SIMD kernels: on (single-thread, ${total} calls)`);
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

  it('marks a run that diverges (L2 at λ 1e30): "diverged" at the task where it happened, — after, no accuracy', async () => {
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
    expect(await matrix.getAttribute('data-diverged-at')).toBe('1');
    expect(await matrix.locator('td[data-row="1"]').evaluateAll((tds) => tds.slice(0, 2).map((td) => td.textContent))).toEqual(['diverged', '—']);
    expect(await matrix.locator('td[data-row="1"][data-value]').count()).toBe(0);
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

  /** Sets the model and the two image folders on the fine-tune section's inputs and waits for the page's reading of them. */
  async function pickFinetuneFiles(page: Page, model: string[], old: string, neu?: string): Promise<void> {
    await page.setInputFiles('#ft-model', model);
    await page.waitForFunction(() => /outputs/.test(document.querySelector('#ft-model-info')?.textContent ?? ''), undefined, { timeout: 60_000, polling: 100 });
    await page.setInputFiles('#ft-old', old);
    await page.locator('#ft-old-info:not(:empty), #ft-old-error:not(:empty)').first().waitFor({ timeout: 30_000 });
    if (neu) {
      await page.setInputFiles('#ft-new', neu);
      await page.locator('#ft-new-info:not(:empty), #ft-new-error:not(:empty)').first().waitFor({ timeout: 30_000 });
    }
  }

  it('fine-tunes a picked model on image folders (EWC-FIS, head extended, pruned 20 %), then the downloaded zip loads in stock tfjs-layers with the accuracy the page reported', async () => {
    const page = await newPage();
    const errors = collectErrors(page);
    await page.goto(url);
    expect(await page.textContent('#ft-privacy')).toContain('Everything runs in this browser; your model and images never leave your machine.');
    await pickFinetuneFiles(page, fixture.modelWithLabels, fixture.old, fixture.new);
    expect(await page.textContent('#ft-model-info')).toContain('input 28×28×3, 5 outputs');
    expect(await page.textContent('#ft-model-info')).toContain('outputs named by labels.txt (t-shirt, trouser, pullover, dress, coat)');
    expect(await page.textContent('#ft-old-info')).toBe('old: 5 classes (coat, dress, pullover, t-shirt, trouser), 100 images');
    expect(await page.textContent('#ft-new-info')).toBe('new: 5 classes (ankle-boot, bag, sandal, shirt, sneaker), train/ 100 + test/ 50 images');
    await page.selectOption('#ft-method', 'ewc-fis');
    await page.selectOption('#ft-head', 'extend');
    await page.fill('#ft-epochs', '1');
    await page.fill('#ft-test-fraction', '0.25');
    await page.setChecked('#ft-prune', true);
    await page.fill('#ft-sparsity', '20');
    await page.selectOption('#ft-prune-importance', 'magnitude');
    const t0 = Date.now();
    await page.click('#ft-run');
    // the phases are named as they run
    await page.waitForFunction(() => /fine-tuning step \d+\/\d+/.test(document.querySelector('#ft-status')?.textContent ?? ''), undefined, { timeout: 120_000, polling: 50 });
    await page.waitForFunction(() => ['done', 'stopped', 'error'].includes(document.querySelector<HTMLElement>('#finetune')?.dataset.state ?? ''), undefined, {
      timeout: 300_000,
      polling: 250,
    });
    if ((await page.getAttribute('#finetune', 'data-state')) !== 'done') throw new Error(`the page reported: ${await page.textContent('#ft-status')}`);
    console.log(`demo page e2e: fine-tuning ${((Date.now() - t0) / 1000).toFixed(1)} s; ${await page.textContent('#ft-status')}`);
    await page.screenshot({ path: join(OUTPUT, 'finetune.png'), fullPage: true });

    // forgetless's SIMD kernels served the MobileNetV2-style model's ops in the page's worker (not the
    // composed fallback): the worker's simdKernelsStatus() after the fine-tuning, as the page keeps it
    const kernels = JSON.parse((await page.getAttribute('#finetune', 'data-simd-kernels')) ?? 'null') as SimdKernelsStatus | null;
    expect(kernels, 'the worker reported its SIMD kernels').not.toBeNull();
    const k = kernels as SimdKernelsStatus;
    console.log(`demo page e2e: SIMD kernels in the worker: ${k.state}, ${k.variant} variant, compiled ${k.compile}; calls ${JSON.stringify(k.calls)}`);
    // bound before the first op: useBackend('wasm') awaits the module's (asynchronous) compile
    expect(k).toMatchObject({ active: true, state: 'active', variant: 'single-thread' });
    // depthwise 3×3 and 1×1 convolutions, forward and both gradients, in every training step; the frozen
    // batch norms (inference mode) with the ReLU6 after them inside their kernels, both ways, in the steps
    // and under the Fisher's taps (no ReLU6 kernel of its own since 2026-12-02); and fine-tuning's Adam
    // update, one call per step (its first step is tfjs's own)
    for (const name of ['dw_forward', 'dw_input_grad', 'dw_filter_grad', 'pw_forward', 'pw_input_grad', 'pw_filter_grad', 'bn_infer_forward', 'bn_infer_backward', 'adam_update'])
      expect(k.calls[name] ?? 0, `kernel ${name} called in the worker`).toBeGreaterThan(0);
    expect(await page.textContent('#ft-status')).toMatch(/SIMD kernels: on \(single-thread, \d+ calls\)/);

    // old vs new accuracy: the pretrained model, plain fine-tuning and EWC-FIS, finite, in [0, 1]
    const rows = await page.locator('#ft-results tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        run: (tr as HTMLElement).dataset.run,
        cells: Array.from(tr.querySelectorAll('td'), (td) => (td.dataset.value === undefined ? Number.NaN : Number(td.dataset.value))),
      })),
    );
    expect(rows.map((r) => r.run)).toEqual(['pretrained', 'plain', 'ewc-fis', 'pruned', 'download']);
    for (const r of rows) {
      for (const v of r.cells.slice(2, 6)) {
        expect(Number.isFinite(v), `${r.run}: ${r.cells}`).toBe(true);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
    const [pretrained, plain, ewc] = rows as [(typeof rows)[number], (typeof rows)[number], (typeof rows)[number]];
    expect(pretrained.cells[2], 'the example model knows its old classes').toBeGreaterThan(0.5);
    expect(ewc.cells[2], 'EWC keeps more of the old classes than plain fine-tuning').toBeGreaterThan(plain.cells[2] as number);
    // the chart: one point per model (pretrained, plain, ewc-fis), in each of the two views
    expect((await page.locator('#ft-chart svg [aria-roledescription="point"]').count()) >= 3).toBe(true);

    // the downloads: the zip of model.json + shards, and results.json
    const [zipDownload] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#ft-download')]);
    expect(zipDownload.suggestedFilename()).toBe('finetuned-ewc-fis-lambda-1000-pruned-20.zip');
    const zip = unzipSync(new Uint8Array(readFileSync(await zipDownload.path())));
    const [resultsDownload] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#ft-download-results')]);
    const results = JSON.parse(readFileSync(await resultsDownload.path(), 'utf8'));
    expect(results.classNames).toEqual(['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'ankle-boot', 'bag', 'sandal', 'shirt', 'sneaker']);
    expect(results.runs.map((r: { variant: string }) => r.variant)).toEqual(['plain', 'ewc-fis']);
    expect(Object.keys(zip).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);

    // stock tfjs-layers loads it; 10 outputs; the weights stored uint8 as the input model's were
    const modelJson = JSON.parse(new TextDecoder().decode(zip['model.json']));
    const weightSpecs = modelJson.weightsManifest.flatMap((g: { weights: tf.io.WeightsManifestEntry[] }) => g.weights) as tf.io.WeightsManifestEntry[];
    const shard = zip['group1-shard1of1.bin'] as Uint8Array;
    expect(weightSpecs.filter((w) => w.quantization?.dtype === 'uint8').length).toBeGreaterThan(weightSpecs.length / 2);
    const model = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs, weightData: shard.slice().buffer }));
    try {
      // accuracy of the downloaded model on the test images: the new ones (test/) and the old ones the
      // page held out (the same seeded split of the same files, in planImages' order)
      const accuracy = async (images: { file: string; className: string }[]) => {
        const x = tf.tensor4d(Float32Array.from((await Promise.all(images.map((t) => pngInput(t.file)))).flatMap((a) => [...a])), [images.length, 28, 28, 3]);
        const y = model.predict(x) as tf.Tensor;
        expect(y.shape).toEqual([images.length, 10]);
        const probs = (await y.array()) as number[][];
        tf.dispose([x, y]);
        for (const p of probs) for (const v of p) expect(Number.isFinite(v)).toBe(true);
        return probs.filter((p, i) => results.classNames[p.indexOf(Math.max(...p))] === images[i]?.className).length / images.length;
      };
      const plan = planImages(fixture.oldFiles.map((f) => relative(join(fixture.old, '..'), f)));
      const heldOut = splitIndices(plan.labels, { test: 0.25, seed: 0 }).test;
      const oldTest = Array.from(heldOut, (i) => ({ file: join(fixture.old, '..', plan.files[i] as string), className: plan.classNames[plan.labels[i] as number] as string }));
      const downloaded = rows.find((r) => r.run === 'download')?.cells as number[];
      const measured = { old: await accuracy(oldTest), new: await accuracy(fixture.newTest) };
      console.log(
        `demo page e2e: the downloaded model in tfjs-layers: old ${measured.old.toFixed(4)}, new ${measured.new.toFixed(4)}; the page: old ${downloaded[2]}, new ${downloaded[3]}`,
      );
      expect(oldTest.length).toBe(25);
      expect(measured.old, 'the pruned EWC model keeps its old classes').toBeGreaterThan(0.5);
      expect(Math.abs(measured.old - (downloaded[2] as number))).toBeLessThan(1e-6);
      expect(Math.abs(measured.new - (downloaded[3] as number))).toBeLessThan(1e-6);
      expect(results.download.saved.old).toBeCloseTo(downloaded[2] as number, 6);
      // pruned 20 % by |w| (kernels and biases ranked together): the zeros survive the uint8 storage
      const kernels = await Promise.all(
        model
          .getWeights()
          .filter((w) => w.shape.length > 1)
          .map((w) => w.data()),
      );
      const zeros = kernels.reduce((n, v) => n + v.filter((e) => e === 0).length, 0);
      const size = kernels.reduce((n, v) => n + v.length, 0);
      expect(zeros / size, 'kernel entries zero in the downloaded model').toBeGreaterThan(0.15);
      expect(results.pruned.zeros / results.pruned.size).toBeCloseTo(0.2, 2);
    } finally {
      model.dispose();
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('replaces the head: the zip holds the new head and the pretrained head on the same fine-tuned body, both stock-loadable', async () => {
    const page = await newPage();
    const errors = collectErrors(page);
    await page.goto(url);
    await pickFinetuneFiles(page, fixture.modelWithLabels, fixture.old, fixture.new);
    await page.selectOption('#ft-method', 'wva-fis');
    await page.selectOption('#ft-head', 'replace');
    await page.fill('#ft-epochs', '1');
    await page.setChecked('#ft-prune', false);
    await page.click('#ft-run');
    await page.waitForFunction(() => ['done', 'stopped', 'error'].includes(document.querySelector<HTMLElement>('#finetune')?.dataset.state ?? ''), undefined, {
      timeout: 300_000,
      polling: 250,
    });
    if ((await page.getAttribute('#finetune', 'data-state')) !== 'done') throw new Error(`the page reported: ${await page.textContent('#ft-status')}`);
    const [zipDownload] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#ft-download')]);
    const zip = unzipSync(new Uint8Array(readFileSync(await zipDownload.path())));
    expect(Object.keys(zip).sort()).toEqual(['group1-shard1of1.bin', 'model.json', 'old-head/group1-shard1of1.bin', 'old-head/model.json']);
    const load = async (prefix: string) => {
      const json = JSON.parse(new TextDecoder().decode(zip[`${prefix}model.json`]));
      const weightSpecs = json.weightsManifest.flatMap((g: { weights: tf.io.WeightsManifestEntry[] }) => g.weights) as tf.io.WeightsManifestEntry[];
      const data = (zip[`${prefix}group1-shard1of1.bin`] as Uint8Array).slice().buffer;
      return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData: data }));
    };
    const fresh = await load('');
    const kept = await load('old-head/');
    try {
      expect(fresh.outputs[0]?.shape).toEqual([null, 5]);
      expect(kept.outputs[0]?.shape).toEqual([null, 5]);
      // one body: every weight but the head's is the same in both files
      const body = (m: tfl.LayersModel) => m.weights.filter((w) => !w.name.startsWith('predictions/')).map((w) => Array.from(w.read().dataSync()));
      expect(body(fresh)).toEqual(body(kept));
      const head = (m: tfl.LayersModel) =>
        Array.from(
          m.weights
            .find((w) => w.name.startsWith('predictions/kernel'))
            ?.read()
            .dataSync() ?? [],
        );
      expect(head(fresh)).not.toEqual(head(kept));
    } finally {
      fresh.dispose();
      kept.dispose();
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('removes channels after fine-tuning: a smaller model, its parameters, FLOPs, bytes, inference and training-step time and accuracy before and after, and a zip stock tfjs-layers loads', async () => {
    const page = await newPage();
    const errors = collectErrors(page);
    await page.goto(url);
    await pickFinetuneFiles(page, fixture.modelWithLabels, fixture.old, fixture.new);
    await page.selectOption('#ft-method', 'plain');
    await page.selectOption('#ft-head', 'extend');
    await page.fill('#ft-epochs', '1');
    await page.setChecked('#ft-prune', true);
    await page.selectOption('#ft-prune-kind', 'channels');
    expect(await page.isVisible('#ft-prune-target')).toBe(true);
    await page.selectOption('#ft-prune-target', 'params');
    await page.fill('#ft-sparsity', '50');
    // Taylor (|Σ θ·ḡ| per group) computed in the worker on the calibration images; |w| is the weights-pruning test's
    await page.selectOption('#ft-prune-importance', 'taylor');
    await page.click('#ft-run');
    await page.waitForFunction(() => ['done', 'stopped', 'error'].includes(document.querySelector<HTMLElement>('#finetune')?.dataset.state ?? ''), undefined, {
      timeout: 300_000,
      polling: 250,
    });
    if ((await page.getAttribute('#finetune', 'data-state')) !== 'done') throw new Error(`the page reported: ${await page.textContent('#ft-status')}`);
    await page.screenshot({ path: join(OUTPUT, 'finetune-channels.png'), fullPage: true });
    expect(await page.textContent('#ft-structure')).toMatch(/ranked by taylor/);
    const measures = Object.fromEntries(
      await page
        .locator('#ft-structure tbody tr')
        .evaluateAll((trs) =>
          trs.map((tr) => [(tr as HTMLElement).dataset.measure, Array.from(tr.querySelectorAll('td'), (td) => Number(td.dataset.value ?? Number.NaN)).slice(1, 3)]),
        ),
    ) as Record<string, [number, number]>;
    expect(Object.keys(measures)).toEqual(['params', 'flops', 'bytes', 'inference', 'train', 'old', 'new']);
    for (const [k, [before, after]] of Object.entries(measures)) {
      expect(Number.isFinite(before) && Number.isFinite(after), k).toBe(true);
      if (['params', 'flops', 'bytes'].includes(k)) expect(after, k).toBeLessThan(before);
    }
    // half the parameters asked: at most half are left, and not far below
    expect(measures.params?.[1]).toBeLessThanOrEqual(0.5 * (measures.params?.[0] as number));
    expect(measures.params?.[1]).toBeGreaterThan(0.4 * (measures.params?.[0] as number));
    const rows = await page
      .locator('#ft-results tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => ({ run: (tr as HTMLElement).dataset.run, cells: Array.from(tr.querySelectorAll('td'), (td) => Number(td.dataset.value ?? Number.NaN)) })),
      );
    expect(rows.map((r) => r.run)).toEqual(['pretrained', 'plain', 'pruned', 'download']);
    const [zipDownload] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#ft-download')]);
    expect(zipDownload.suggestedFilename()).toBe('finetuned-plain-channels-50-params.zip');
    const zip = unzipSync(new Uint8Array(readFileSync(await zipDownload.path())));
    const [resultsDownload] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#ft-download-results')]);
    const results = JSON.parse(readFileSync(await resultsDownload.path(), 'utf8'));
    expect(results.structure.after.params).toBe(measures.params?.[1]);
    const modelJson = JSON.parse(new TextDecoder().decode(zip['model.json']));
    const weightSpecs = modelJson.weightsManifest.flatMap((g: { weights: tf.io.WeightsManifestEntry[] }) => g.weights) as tf.io.WeightsManifestEntry[];
    const shard = zip['group1-shard1of1.bin'] as Uint8Array;
    expect(shard.byteLength).toBe(measures.bytes?.[1]);
    const model = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs, weightData: shard.slice().buffer }));
    try {
      // the smaller shapes: the trainable parameters stock tfjs-layers counts are the page's
      expect(model.trainableWeights.reduce((n, w) => n + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0)).toBe(measures.params?.[1]);
      const images = fixture.newTest;
      const x = tf.tensor4d(Float32Array.from((await Promise.all(images.map((t) => pngInput(t.file)))).flatMap((a) => [...a])), [images.length, 28, 28, 3]);
      const y = model.predict(x) as tf.Tensor;
      expect(y.shape).toEqual([images.length, 10]);
      const probs = (await y.array()) as number[][];
      tf.dispose([x, y]);
      const names = results.classNames as string[];
      const accuracy = probs.filter((p, i) => names[p.indexOf(Math.max(...p))] === images[i]?.className).length / images.length;
      const downloaded = rows.find((r) => r.run === 'download')?.cells as number[];
      expect(Math.abs(accuracy - (downloaded[3] as number))).toBeLessThan(1e-6);
    } finally {
      model.dispose();
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows a run that diverges (EWC at λ 1e40) as diverged, with no accuracy and no model to download (the model picked as nsfwjs ships its models: UMD scripts)', async () => {
    const page = await newPage();
    const errors = collectErrors(page);
    await page.goto(url);
    await pickFinetuneFiles(page, fixture.wrappedWithLabels, fixture.old, fixture.new);
    expect(await page.textContent('#ft-model-info')).toMatch(/^model\.min\.js: input 28×28×3, 5 outputs/);
    await page.selectOption('#ft-method', 'ewc-fis');
    await page.fill('#ft-lambda', '1e40');
    await page.click('#ft-run');
    await page.waitForFunction(() => ['done', 'stopped', 'error'].includes(document.querySelector<HTMLElement>('#finetune')?.dataset.state ?? ''), undefined, {
      timeout: 300_000,
      polling: 250,
    });
    expect(await page.getAttribute('#finetune', 'data-state'), (await page.textContent('#ft-status')) ?? '').toBe('done');
    const ewc = page.locator('#ft-results tbody tr[data-run="ewc-fis"]');
    expect(await ewc.getAttribute('data-diverged')).toBe('true');
    expect(await ewc.getAttribute('title')).toMatch(/diverged/);
    expect(await ewc.locator('td').allTextContents()).toEqual(['ewc-fis', '1e+40', 'diverged', '—', '—', '—', expect.stringMatching(/ s$/)]);
    // the shard decoded from its script: the pretrained model knows its old classes (chance is 0.2)
    const pretrainedOld = Number(await page.locator('#ft-results tbody tr[data-run="pretrained"] td[data-value]').first().getAttribute('data-value'));
    expect(pretrainedOld).toBeGreaterThan(0.5);
    expect(await ewc.locator('td[data-value]').count()).toBe(0);
    expect(await page.locator('#ft-results tbody tr[data-run="plain"] td[data-value]').count()).toBe(4);
    expect(await page.isDisabled('#ft-download')).toBe(true);
    expect(await page.textContent('#ft-download-note')).toContain('diverged: no model to download');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('takes a dropped model and says beside the field when the old data has more classes than the model outputs, or the new classes need head "extend"', async () => {
    const page = await newPage();
    const errors = collectErrors(page);
    await page.goto(url);
    // the model dropped on its drop zone (a DataTransfer of model.json and its shard), the folders picked
    const files = fixture.model.map((f) => ({ name: f.slice(f.lastIndexOf('/') + 1), base64: readFileSync(f).toString('base64') }));
    const dataTransfer = await page.evaluateHandle((list) => {
      const dt = new DataTransfer();
      for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name));
      return dt;
    }, files);
    await page.dispatchEvent('#ft-model-drop', 'drop', { dataTransfer });
    await page.waitForFunction(() => /5 outputs/.test(document.querySelector('#ft-model-info')?.textContent ?? ''), undefined, { timeout: 60_000, polling: 100 });
    await page.setInputFiles('#ft-old', fixture.oldSeven);
    await page.setInputFiles('#ft-new', fixture.new);
    await page.locator('#ft-old-error:not(:empty)').waitFor({ timeout: 30_000 });
    expect(await page.textContent('#ft-old-error')).toBe(
      `old data: 7 class folders (${[...CLASS_NAMES.slice(0, 7)].sort().join(', ')}) but the model outputs 5 classes; the old data needs one folder per output, in the model's order, or pick a labels.txt (one class name per line, in the output order) with the model`,
    );
    expect(await page.getAttribute('#ft-old', 'aria-invalid')).toBe('true');
    await page.click('#ft-run');
    expect(await page.textContent('#ft-status')).toBe('Fix the fields marked in red.');
    expect(await page.getAttribute('#finetune', 'data-state')).toBe('idle');
    // the right old data, head keep: the new classes are not among the model's
    await page.setInputFiles('#ft-old', fixture.old);
    await page.waitForFunction(() => (document.querySelector('#ft-old-error')?.textContent ?? 'x') === '', undefined, { timeout: 30_000, polling: 100 });
    await page.selectOption('#ft-head', 'keep');
    expect(await page.textContent('#ft-new-error')).toMatch(
      /^new data: classes ankle-boot, bag, sandal, shirt, sneaker are not among the model's 5 classes .*choose head "extend" or "replace"/,
    );
    await page.selectOption('#ft-head', 'extend');
    expect(await page.textContent('#ft-new-error')).toBe('');
    expect(errors).toEqual([]);
    await page.close();
  });
});
