// Models shipped inside JavaScript files (nsfwjs's model.min.js + group1-shard1of1.min.js: browserify
// UMD bundles exporting the model.json object and each shard as base64), read without running them:
// a quantized MobileNetV2-style graph written that way loads with the same weights as its plain
// model.json + .bin and predicts as stock tfjs-layers does on the plain files.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { layersModelFiles, loadLayersModel } from '../node.js';
import { loadLayersModelFromUrl, parseModelJson } from './load.js';
import { artifactsOf } from './artifacts.test-helpers.js';
import { isScriptText, modelJsonFromScript, shardBytesFromScript } from './wrapped.js';

let root: string;
let tensors = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'forgetless-wrapped-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
beforeEach(() => {
  tensors = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensors);
  delete (globalThis as Record<string, unknown>).__forgetlessRan;
});

/** A value as a minifier writes it: unquoted keys, `.5`, `!0` / `!1`. */
function minified(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? '!0' : '!1';
  if (typeof v === 'number') return String(v).replace(/^(-?)0\./, '$1.');
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(minified).join(',')}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .map(([k, x]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}:${minified(x)}`)
    .join(',')}}`;
}

/**
 * nsfwjs's wrapper, as its model.min.js has it (browserify's standalone UMD prelude), around a module
 * whose body is `a.exports=<value>`; `extra` is code placed in the module before the export, which a
 * reader that ran the file would execute.
 */
const umd = (global: string, value: string, extra = '') =>
  `!function(e){if("object"==typeof exports&&"undefined"!=typeof module)module.exports=e();else if("function"==typeof define&&define.amd)define([],e);else{("undefined"!=typeof window?window:"undefined"!=typeof global?global:"undefined"!=typeof self?self:this).${global}=e()}}(function(){return function e(a,n,i){function l(_,o){if(!n[_]){if(!a[_]){var s="function"==typeof require&&require;if(!o&&s)return s(_,!0);if(t)return t(_,!0);var c=new Error("Cannot find module '"+_+"'");throw c.code="MODULE_NOT_FOUND",c}var r=n[_]={exports:{}};a[_][0].call(r.exports,function(e){return l(a[_][1][e]||e)},r,r.exports,e,a,n,i)}return n[_].exports}for(var t="function"==typeof require&&require,_=0;_<i.length;_++)l(i[_]);return l}({1:[function(e,a,n){${extra}a.exports=${value}},{}]},{},[1])(1)});`;

/** A MobileNetV2-style graph: stem conv, batch norm, ReLU6, an inverted residual block with a depthwise conv and Add, pooling, softmax. */
function mobilenetBlock(): tfl.LayersModel {
  const input = tfl.input({ shape: [12, 12, 3] });
  const relu6 = () => tfl.layers.reLU({ maxValue: 6 });
  let x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'Conv1' }).apply(input) as tfl.SymbolicTensor;
  x = relu6().apply(tfl.layers.batchNormalization({ name: 'bn_Conv1' }).apply(x)) as tfl.SymbolicTensor;
  let y = tfl.layers.conv2d({ filters: 24, kernelSize: 1, useBias: false, name: 'block_1_expand' }).apply(x) as tfl.SymbolicTensor;
  y = relu6().apply(tfl.layers.batchNormalization({ name: 'block_1_expand_BN' }).apply(y)) as tfl.SymbolicTensor;
  y = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'block_1_depthwise' }).apply(y) as tfl.SymbolicTensor;
  y = relu6().apply(tfl.layers.batchNormalization({ name: 'block_1_depthwise_BN' }).apply(y)) as tfl.SymbolicTensor;
  y = tfl.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false, name: 'block_1_project' }).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.batchNormalization({ name: 'block_1_project_BN' }).apply(y) as tfl.SymbolicTensor;
  x = tfl.layers.add().apply([x, y]) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 5, activation: 'softmax', name: 'Logits' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/** A [n, k] tensor's rows, the tensor disposed. */
function rows(t: tf.Tensor): number[][] {
  const r = t.arraySync() as number[][];
  t.dispose();
  return r;
}

interface Written {
  json: Record<string, unknown>;
  shards: Uint8Array[];
}

/** The model's model.json object (uint8-quantized, as tensorflowjs_converter --quantize_uint8 writes) and its data in two shards. */
async function quantizedArtifacts(model: tfl.LayersModel): Promise<Written> {
  const art = await artifactsOf(model, 'uint8');
  const data = new Uint8Array(art.weightData as ArrayBuffer);
  const cut = Math.floor(data.length / 2);
  return {
    json: { modelTopology: art.modelTopology, weightsManifest: [{ paths: ['group1-shard1of2', 'group1-shard2of2'], weights: art.weightSpecs ?? [] }] },
    shards: [data.slice(0, cut), data.slice(cut)],
  };
}

async function writePlain(dir: string, w: Written): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), JSON.stringify(w.json));
  await Promise.all(w.shards.map((s, i) => writeFile(join(dir, `group1-shard${i + 1}of2`), s)));
}

async function writeWrapped(dir: string, w: Written, extra = ''): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.min.js'), umd('model', minified(w.json), extra));
  await Promise.all(
    w.shards.map((s, i) => writeFile(join(dir, `group1-shard${i + 1}of2.min.js`), umd(`group1_shard${i + 1}of2`, JSON.stringify(Buffer.from(s).toString('base64')), extra))),
  );
}

describe('models shipped as JavaScript files (UMD, CommonJS, ES module), read without running them', () => {
  let keras: tfl.LayersModel;
  let written: Written;
  beforeAll(async () => {
    keras = mobilenetBlock();
    written = await quantizedArtifacts(keras);
    await writePlain(join(root, 'plain'), written);
  });
  afterAll(() => keras.dispose());

  it("nsfwjs's layout (model.min.js + group1-shardNofM.min.js): the plain files' weights and stock tfjs-layers' predictions, and nothing in the files runs", async () => {
    const dir = join(root, 'umd');
    await writeWrapped(dir, written, 'globalThis.__forgetlessRan=!0;');
    const wrapped = await loadLayersModel(dir);
    const plain = await loadLayersModel(join(root, 'plain'));
    const stock = await tfl.loadLayersModel(layersModelFiles(join(root, 'plain')));
    const x = tf.randomUniform([3, 12, 12, 3], 0, 1, 'float32', 7);
    try {
      expect((globalThis as Record<string, unknown>).__forgetlessRan).toBeUndefined();
      expect(Object.keys(wrapped.model.params).sort()).toEqual(Object.keys(plain.model.params).sort());
      for (const [name, v] of Object.entries(plain.model.params)) {
        expect(Array.from((wrapped.model.params[name] as tf.Variable).dataSync()), name).toEqual(Array.from(v.dataSync()));
      }
      const want = rows(stock.predict(x) as tf.Tensor);
      const got = rows(wrapped.predict(x));
      const err = Math.max(...want.flatMap((r, i) => r.map((v, j) => Math.abs(v - (got[i]?.[j] as number)))));
      expect(err).toBeLessThan(1e-5);
      // a wrong load (a shard's bytes off by one place) moves predictions far beyond that
      expect(Math.max(...want.flat())).toBeGreaterThan(0.2);
      // the file path itself loads too, and stock tfjs-layers reads the wrapped files through the same reader
      const direct = await loadLayersModel(join(dir, 'model.min.js'));
      const viaStock = await tfl.loadLayersModel(layersModelFiles(join(dir, 'model.min.js')));
      const got2 = rows(viaStock.predict(x) as tf.Tensor);
      expect(Math.max(...want.flatMap((r, i) => r.map((v, j) => Math.abs(v - (got2[i]?.[j] as number)))))).toBe(0);
      direct.dispose();
      viaStock.dispose();
    } finally {
      x.dispose();
      wrapped.dispose();
      plain.dispose();
      stock.dispose();
    }
  });

  it('from a URL: model.min.js, its shards fetched as <path>.min.js when <path> is 404; the same weights as the files', async () => {
    const dir = join(root, 'umd-url');
    await writeWrapped(dir, written);
    const served = new Map<string, string>();
    for (const f of await readdir(dir)) served.set(f, await readFile(join(dir, f), 'utf8'));
    const asked: string[] = [];
    const fetchDir = (async (url: string) => {
      const name = url.slice(url.lastIndexOf('/') + 1);
      asked.push(name);
      const body = served.get(name);
      return body ? new Response(body) : new Response('not found', { status: 404 });
    }) as typeof fetch;
    const fromUrl = await loadLayersModelFromUrl('https://example.org/m/model.min.js', { fetch: fetchDir });
    const plain = await loadLayersModel(join(root, 'plain'));
    try {
      expect(asked).toEqual(['model.min.js', 'group1-shard1of2', 'group1-shard1of2.min.js', 'group1-shard2of2', 'group1-shard2of2.min.js']);
      for (const [name, v] of Object.entries(plain.model.params)) {
        expect(Array.from((fromUrl.model.params[name] as tf.Variable).dataSync()), name).toEqual(Array.from(v.dataSync()));
      }
    } finally {
      fromUrl.dispose();
      plain.dispose();
    }
    served.delete('group1-shard2of2.min.js');
    await expect(loadLayersModelFromUrl('https://example.org/m/model.min.js', { fetch: fetchDir })).rejects.toThrow(
      /weight shard 'group1-shard2of2' at .*\(HTTP 404; nor group1-shard2of2\.min\.js, group1-shard2of2\.js beside it\)/,
    );
  });

  it('CommonJS and ES module forms give the same model.json object as JSON.parse of the plain file', () => {
    const want = JSON.parse(JSON.stringify(written.json));
    const lit = minified(written.json);
    for (const text of [
      `module.exports = ${lit};`,
      `exports.model = ${lit};`,
      `export default ${lit};`,
      `export const modelJson = ${lit};`,
      `"use strict";\nmodule.exports=(${lit});`,
    ]) {
      expect(isScriptText(text)).toBe(true);
      expect(parseModelJson(text, 'm.js')).toEqual(want);
    }
    expect(isScriptText(JSON.stringify(want))).toBe(false);
    const bytes = written.shards[0] as Uint8Array;
    expect(Array.from(shardBytesFromScript(`module.exports = ${JSON.stringify(Buffer.from(bytes).toString('base64'))};`, 's.js'))).toEqual(Array.from(bytes));
    expect(Array.from(shardBytesFromScript(`export default [${Array.from(bytes.slice(0, 9)).join(',')}];`, 's.js'))).toEqual(Array.from(bytes.slice(0, 9)));
    // a key named __proto__ stays data, not the object's prototype
    const o = modelJsonFromScript('module.exports={"__proto__":{polluted:1},modelTopology:{}}', 'p.js');
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect((o as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses, naming the file, what it would have to run or cannot read', async () => {
    expect(() => parseModelJson('module.exports = build({modelTopology: {}});', '/m/model.js')).toThrow(
      /\/m\/model\.js: a JavaScript file whose exports hold no model\.json object written as a literal.*does not run/,
    );
    expect(() => parseModelJson('const m = {modelTopology: {}};', '/m/model.js')).toThrow(/\/m\/model\.js: a JavaScript file that exports nothing/);
    expect(() => parseModelJson('<!doctype html><p>Not found', '/m/model.json')).toThrow(/\/m\/model\.json: neither JSON nor a JavaScript file/);
    expect(() => parseModelJson('{"modelTopology": ', '/m/model.json')).toThrow(/\/m\/model\.json: malformed JSON/);
    expect(() => shardBytesFromScript('module.exports = "not base64!";', '/m/s.min.js')).toThrow(/\/m\/s\.min\.js: the exported string is not base64/);
    expect(() => shardBytesFromScript('module.exports = atob(x);', '/m/s.min.js')).toThrow(/\/m\/s\.min\.js: .*no weight data written as a literal/);

    // a shard that is neither there nor wrapped: both names tried are given
    const missing = join(root, 'missing');
    await writeWrapped(missing, written);
    await rm(join(missing, 'group1-shard2of2.min.js'));
    await expect(loadLayersModel(missing)).rejects.toThrow(/weight shard 'group1-shard2of2' cannot be read .*nor is it wrapped as group1-shard2of2\.min\.js, group1-shard2of2\.js/);

    // a wrapped shard one byte short: the manifest's size check, before the model is built
    const short = join(root, 'short');
    await writeWrapped(short, written);
    const s2 = written.shards[1] as Uint8Array;
    await writeFile(join(short, 'group1-shard2of2.min.js'), umd('s', JSON.stringify(Buffer.from(s2.slice(1)).toString('base64'))));
    await expect(loadLayersModel(short)).rejects.toThrow(/group1-shard1of2, group1-shard2of2|bytes/);
  });
});
