// Every package as a user gets it: `npm pack` makes its tarball, which is installed alone (with the
// tarballs of the forgetless packages it depends on, and tfjs-core + tfjs-backend-wasm from the
// registry or npm's cache) into its own scratch project. There:
// - the tarball: LICENSE, repository and homepage; every sourceMappingURL and every source a map
//   names is in the tarball; every .d.ts has a CommonJS twin (.d.cts) that `exports` points to;
// - its README's example (test/readme.ts picks it) runs from plain Node ESM, from plain CommonJS, and
//   from a strict TypeScript project compiled to CommonJS with `module: node16` (tsc must pass);
// - it is bundled by esbuild for the browser and run in headless Chromium (Debian's, driven by
//   playwright-core as the demo page's test does; skipped when /usr/bin/chromium is absent), with
//   tfjs-backend-wasm's binaries served beside the page. @forgetless/core also trains a small conv net
//   on wasm in the browser, bundled with tfjs-layers (which registers tfjs's gradients) imported
//   after forgetless and before it, with the binaries elsewhere (useBackend's `wasmPaths`), and those
//   bundles must hold tfjs's gradient code once; and useBackend's webgl, webgpu and
//   not-imported-package paths are checked in the browser.
import { type ExecFileOptions, execFile } from 'node:child_process';
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Metafile, build, transform } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_DONE, PACKAGES, type PackageDir, readReadme, wrapMain } from './readme.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tfVersion = JSON.parse(readFileSync(join(root, 'node_modules/@tensorflow/tfjs-core/package.json'), 'utf8')).version as string;
const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`packaging: the browser part is skipped, ${CHROMIUM} is absent (install Debian's chromium: bash scripts/install-system-deps.sh)`);

const readmes = Object.fromEntries(PACKAGES.map((d) => [d, readReadme(root, d)])) as Record<PackageDir, ReturnType<typeof readReadme>>;
const example = (d: PackageDir) => readmes[d].examples[0]?.code ?? '';
/** README examples that use a package's Node entry run in Node only. */
const nodeOnly = (d: PackageDir) => /from '@forgetless\/[a-z]+\/node'/.test(example(d));
const manifest = (d: PackageDir) => JSON.parse(readFileSync(join(root, 'packages', d, 'package.json'), 'utf8'));

/** The forgetless packages `d` depends on, directly or not. */
function forgetlessDeps(d: PackageDir, seen = new Set<PackageDir>()): PackageDir[] {
  for (const dep of Object.keys(manifest(d).dependencies ?? {})) {
    if (!dep.startsWith('@forgetless/')) continue;
    const name = dep.slice('@forgetless/'.length) as PackageDir;
    if (!seen.has(name)) {
      seen.add(name);
      forgetlessDeps(name, seen);
    }
  }
  return [...seen];
}
const extraPeers = (d: PackageDir) => (d === 'core' ? ['@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-webgl'] : []);

interface Run {
  stdout: string;
  stderr: string;
}
function sh(cmd: string, args: string[], options: ExecFileOptions & { cwd: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 << 20, timeout: 240_000, ...options, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')} (in ${options.cwd}) failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** At most `n` of the functions it is given run at once (the machine has 2 cores). */
function limiter(n: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    while (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
const limit = limiter(2);

let work = '';
const scratch = (d: PackageDir) => join(work, d);
const nodeEnv = { ...process.env, NODE_OPTIONS: '' };

async function packAndInstall(): Promise<void> {
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs, { recursive: true });
  const packed = {} as Record<PackageDir, string>;
  await Promise.all(
    PACKAGES.map(async (d) => {
      const r = await sh('npm', ['pack', '--silent', '--pack-destination', tarballs], { cwd: join(root, 'packages', d) });
      packed[d] = join(tarballs, r.stdout.trim().split('\n').at(-1) as string);
    }),
  );
  await Promise.all(
    PACKAGES.map(async (d) => {
      const dir = scratch(d);
      mkdirSync(dir, { recursive: true });
      // no "type": CommonJS by default, as `npm init` makes it; ESM files are .mjs
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `scratch-${d}`, version: '1.0.0', private: true }));
      const specs = [
        packed[d],
        ...forgetlessDeps(d).map((x) => packed[x]),
        ...['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', ...extraPeers(d)].map((p) => `${p}@${tfVersion}`),
      ];
      await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...specs], { cwd: dir });
    }),
  );
}

async function writePrograms(d: PackageDir): Promise<void> {
  const dir = scratch(d);
  const code = example(d);
  writeFileSync(join(dir, 'esm.mjs'), (await transform(code, { loader: 'ts', format: 'esm', target: 'es2022' })).code);
  writeFileSync(join(dir, 'cjs.cjs'), (await transform(wrapMain(code, NODE_DONE), { loader: 'ts', format: 'cjs', target: 'es2022' })).code);
  // a strict TypeScript project compiled to CommonJS: package.json has no "type", module node16
  writeFileSync(join(dir, 'example.ts'), wrapMain(code, NODE_DONE));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2022', 'DOM'],
        module: 'node16',
        moduleResolution: 'node16',
        strict: true,
        noUncheckedIndexedAccess: true,
        outDir: 'ts-out',
        rootDir: '.',
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
        skipLibCheck: true,
      },
      files: ['example.ts'],
    }),
  );
}

/** Runs a Node program of a scratch project; returns what it printed. */
function runNode(d: PackageDir, file: string): Promise<Run> {
  return limit(() => sh(process.execPath, [file], { cwd: scratch(d), env: nodeEnv }));
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name), base) : [relative(base, join(dir, e.name))]));
}

describe('each package packed, installed alone, used as its README shows', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'forgetless-pack-'));
    const t0 = Date.now();
    await packAndInstall();
    await Promise.all(PACKAGES.map(writePrograms));
    console.log(`packaging: packed and installed ${PACKAGES.length} packages in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 600_000);

  afterAll(async () => {
    // asynchronously: a synchronous removal of the eleven scratch installs blocked the worker's event
    // loop past vitest's 60 s RPC timeout on a loaded machine ("Timeout calling onTaskUpdate")
    if (work && !process.env.FORGETLESS_KEEP_SCRATCH) await rm(work, { recursive: true, force: true });
    else if (work) console.log(`packaging: scratch projects kept in ${work}`);
  });

  it.each(PACKAGES)('%s installs with only its forgetless dependencies and tfjs beside it', async (d) => {
    const installed = JSON.parse((await sh('npm', ['ls', '--json', '--depth=0'], { cwd: scratch(d) })).stdout).dependencies;
    const expected = [`@forgetless/${d}`, ...forgetlessDeps(d).map((x) => `@forgetless/${x}`), '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-core', ...extraPeers(d)];
    expect(Object.keys(installed).sort()).toEqual(expected.sort());
  });

  it.each(PACKAGES)('%s tarball: LICENSE, repository and homepage, resolvable source maps, CommonJS declarations', (d) => {
    const pkgDir = join(scratch(d), 'node_modules/@forgetless', d);
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    expect(readFileSync(join(pkgDir, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository).toMatchObject({ type: 'git', url: expect.stringMatching(/^git\+https:\/\/.+\.git$/), directory: `packages/${d}` });
    expect(pkg.homepage).toMatch(/^https:\/\//);
    const files = filesUnder(pkgDir);
    const missing: string[] = [];
    for (const f of files.filter((x) => /\.(c?js|d\.c?ts)$/.test(x))) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(pkgDir, f), 'utf8'))?.[1];
      if (!url || url.startsWith('data:')) continue;
      const map = join(pkgDir, dirname(f), url);
      if (!existsSync(map)) {
        missing.push(`${f} → ${url}`);
        continue;
      }
      const json = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const s of json.sources) if (!existsSync(join(dirname(map), json.sourceRoot ?? '', s))) missing.push(`${relative(pkgDir, map)} → ${s}`);
    }
    expect(missing, 'source maps that point at files the tarball lacks').toEqual([]);
    const dts = files.filter((f) => f.endsWith('.d.ts'));
    expect(dts.length).toBeGreaterThan(0);
    expect(
      dts.filter((f) => !files.includes(f.replace(/\.d\.ts$/, '.d.cts'))),
      '.d.ts without a .d.cts twin',
    ).toEqual([]);
    expect(
      files.filter((f) => /\.test\.|test-helpers/.test(f)),
      'tests shipped',
    ).toEqual([]);
    for (const [sub, entry] of Object.entries(pkg.exports as Record<string, unknown>)) {
      if (typeof entry !== 'object' || entry === null) continue;
      const e = entry as { import: { types: string; default: string }; require: { types: string; default: string } };
      for (const f of [e.import.types, e.import.default, e.require.types, e.require.default]) expect(existsSync(join(pkgDir, f)), `${sub}: ${f}`).toBe(true);
      expect(e.require.types, `${sub}: require.types`).toMatch(/\.d\.cts$/);
    }
  });

  describe.concurrent('its README example', () => {
    const cases = PACKAGES.flatMap((d) => (['Node ESM', 'Node CommonJS', 'TypeScript node16 CommonJS'] as const).map((how) => [d, how] as const));
    it.each(cases)('%s, %s', async (d, how) => {
      let r: Run;
      if (how === 'Node ESM') r = await runNode(d, 'esm.mjs');
      else if (how === 'Node CommonJS') r = await runNode(d, 'cjs.cjs');
      else {
        await limit(() => sh(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: scratch(d) }));
        r = await runNode(d, 'ts-out/example.js');
      }
      console.log(`@forgetless/${d} README example, ${how}:\n${r.stdout.trim()}`);
      expect(r.stdout.trim().length).toBeGreaterThan(0);
    });

    it.each(['esm', 'cjs'] as const)('core trains on wasm with no tensor leaked (%s)', async (kind) => {
      const body = `(async () => {
  const backend = await core.useBackend('wasm');
  const tasks = core.syntheticPermutedTasks({ numTasks: 2, features: 16, trainPerClass: 30, testPerClass: 20, seed: 2 });
  const model = core.mlp([16, 16, 10], { seed: 1 });
  const before = tfcore.memory().numTensors;
  const opt = tfcore.train.sgd(0.2);
  const r = await core.trainContinual(model, tasks, { optimizer: opt, epochs: 3, batchSize: 20 });
  opt.dispose();
  console.log(JSON.stringify({ backend, accuracy: r.accuracy, leaked: tfcore.memory().numTensors - before }));
})().catch((e) => { console.error(e); process.exit(1); });
`;
      const file = kind === 'esm' ? 'leaks.mjs' : 'leaks.cjs';
      const head =
        kind === 'esm'
          ? "import * as core from '@forgetless/core';\nimport * as tfcore from '@tensorflow/tfjs-core';\n"
          : "const core = require('@forgetless/core');\nconst tfcore = require('@tensorflow/tfjs-core');\n";
      writeFileSync(join(scratch('core'), file), head + body);
      const out = (await runNode('core', file)).stdout;
      const r = JSON.parse(
        out
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .at(-1) ?? '{}',
      );
      expect(r.backend).toBe('wasm');
      expect(r.accuracy).toHaveLength(2);
      expect(r.accuracy[1]?.[1]).toBeGreaterThan(0.6);
      expect(r.leaked).toBe(0);
    });
  });

  describe('bundled for the browser', () => {
    let web = '';
    const sizes: string[] = [];
    const metafiles: Record<string, Metafile> = {};

    /** Bundles `entry` (TypeScript, resolved from `d`'s scratch project) to `web/<out>`. */
    async function bundle(d: PackageDir, entry: string, out: string): Promise<void> {
      const r = await build({
        stdin: { contents: entry, resolveDir: scratch(d), loader: 'ts', sourcefile: `${out}.ts` },
        bundle: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        minify: true,
        metafile: true,
        outfile: join(web, out),
        logLevel: 'silent',
      });
      metafiles[out] = r.metafile;
      const output = Object.entries(r.metafile.outputs).find(([k]) => k.endsWith('.js'))?.[1];
      const forgetless = Object.entries(output?.inputs ?? {})
        .filter(([k]) => k.includes('@forgetless'))
        .reduce((a, [, v]) => a + v.bytesInOutput, 0);
      sizes.push(`${out.padEnd(28)} ${((output?.bytes ?? 0) / 1024).toFixed(1).padStart(7)} KiB minified, of which @forgetless/* ${(forgetless / 1024).toFixed(1)} KiB`);
    }
    const page = (script: string) => `<!doctype html><meta charset="utf-8"><title>forgetless</title><script type="module" src="./${script}"></script>`;
    const BROWSER_DONE = `(globalThis as unknown as { __result: unknown }).__result = error === undefined ? { ok: true } : { ok: false, error: String((error as Error)?.stack ?? error) };`;
    const wasmDist = () => join(scratch('core'), 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
    const wasmFiles = () => readdirSync(wasmDist()).filter((f) => f.endsWith('.wasm'));

    /** The conv net page: trains on wasm, the binaries under /wasm-assets/ (useBackend's wasmPaths). */
    const convEntry = (layersFirst: boolean) => {
      const forgetless = "import * as core from '@forgetless/core';";
      const layers = "import * as tfl from '@tensorflow/tfjs-layers';";
      return `${layersFirst ? `${layers}\n${forgetless}` : `${forgetless}\n${layers}`}
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';

const registered = () => [...((globalThis as unknown as { _tfGlobals: Map<string, Map<string, unknown>> })._tfGlobals.get('gradRegistry')?.keys() ?? [])];
async function main(): Promise<unknown> {
  const backend = await core.useBackend('wasm', { wasmPaths: '/wasm-assets/', module: wasm });
  // two classes of 8×8 images: a vertical or a horizontal bar at a random place, plus noise
  const rng = new core.Rng(1);
  const n = 128;
  const x = new Float32Array(n * 64);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    const k = rng.int(8);
    y[i] = c;
    for (let r = 0; r < 8; r++) for (let col = 0; col < 8; col++) x[i * 64 + r * 8 + col] = ((c ? r : col) === k ? 1 : 0) + 0.1 * rng.normal();
  }
  const train = new core.ArraySource({ x, y, exampleShape: [8, 8, 1], numClasses: 2 });
  const model = core.sequential([core.conv2d(4, 3, { activation: 'relu' }), core.maxPool2d({ poolSize: 2 }), core.flatten(), core.dense(2)], { inputShape: [8, 8, 1], seed: 1 });
  const before = tf.memory().numTensors;
  const opt = tf.train.sgd(0.1);
  const r = await core.trainContinual(model, [{ name: 'bars', train, test: train }], { optimizer: opt, epochs: 15, batchSize: 16, seed: 1 });
  opt.dispose();
  return { backend, layers: tfl.version_layers, accuracy: r.accuracy[0]?.[0], losses: r.losses.map((l) => l.loss), leaked: tf.memory().numTensors - before, gradients: registered() };
}
main().then(
  (value) => { (globalThis as unknown as { __result: unknown }).__result = { ok: true, value }; },
  (error: unknown) => { (globalThis as unknown as { __result: unknown }).__result = { ok: false, error: String((error as Error)?.stack ?? error) }; },
);
`;
    };

    /** useBackend by name in a bundle: wasm not imported, webgpu not installed, webgl imported. */
    const backendsEntry = `import * as core from '@forgetless/core';
import '@tensorflow/tfjs-backend-webgl';
import * as tf from '@tensorflow/tfjs-core';

const attempt = (name: core.BackendName) => core.useBackend(name).then((b) => \`ok \${b}\`, (e: Error) => e.message);
async function main(): Promise<unknown> {
  const canvas = document.createElement('canvas');
  const hasWebGL = !!(canvas.getContext('webgl2') ?? canvas.getContext('webgl'));
  const webgl = await attempt('webgl');
  const sum = webgl.startsWith('ok') ? tf.tidy(() => tf.sum(tf.add(tf.ones([2, 2]), tf.ones([2, 2]))).arraySync()) : null;
  return { hasWebGL, webgl, sum, wasm: await attempt('wasm'), webgpu: await attempt('webgpu') };
}
main().then(
  (value) => { (globalThis as unknown as { __result: unknown }).__result = { ok: true, value }; },
  (error: unknown) => { (globalThis as unknown as { __result: unknown }).__result = { ok: false, error: String((error as Error)?.stack ?? error) }; },
);
`;

    const browserReadmes = PACKAGES.filter((d) => !nodeOnly(d));

    beforeAll(async () => {
      web = join(work, 'web');
      for (const d of browserReadmes) {
        mkdirSync(join(web, d), { recursive: true });
        await bundle(d, wrapMain(example(d), BROWSER_DONE), `${d}/readme.js`);
        writeFileSync(join(web, d, 'index.html'), page('readme.js'));
        // tfjs-backend-wasm's default: the binaries beside the page
        for (const f of wasmFiles()) cpSync(join(wasmDist(), f), join(web, d, f));
      }
      mkdirSync(join(web, 'conv'), { recursive: true });
      mkdirSync(join(web, 'wasm-assets'), { recursive: true });
      for (const f of wasmFiles()) cpSync(join(wasmDist(), f), join(web, 'wasm-assets', f));
      for (const [name, layersFirst] of [
        ['forgetless-first', false],
        ['layers-first', true],
      ] as const) {
        await bundle('core', convEntry(layersFirst), `conv/${name}.js`);
        writeFileSync(join(web, 'conv', `${name}.html`), page(`${name}.js`));
      }
      mkdirSync(join(web, 'backends'), { recursive: true });
      await bundle('core', backendsEntry, 'backends/index.js');
      writeFileSync(join(web, 'backends', 'index.html'), page('index.js'));
      console.log(`packaging: esbuild browser bundles\n${sizes.join('\n')}`);
    }, 300_000);

    it.each(PACKAGES)("%s's browser entry bundles without Node built-ins", async (d) => {
      const r = await build({
        stdin: { contents: `export * from '@forgetless/${d}';`, resolveDir: scratch(d), loader: 'js' },
        bundle: true,
        format: 'esm',
        platform: 'browser',
        write: false,
        logLevel: 'silent',
      });
      expect(r.errors).toEqual([]);
    });

    it.each(['forgetless-first', 'layers-first'])("@forgetless/core with tfjs-layers (%s): tfjs's gradient code is bundled once", (name) => {
      const inputs = Object.keys(metafiles[`conv/${name}.js`]?.inputs ?? {});
      expect(
        inputs.filter((k) => k.includes('@forgetless/core') && k.includes('generated/tfjs-gradients') && !k.endsWith('tfjs-gradients.browser.js')),
        'a second copy of tfjs gradients',
      ).toEqual([]);
      expect(inputs.filter((k) => /tfjs-core\/dist\/gradients\/Conv2D_grad\.js$/.test(k))).toHaveLength(1);
      expect(inputs.filter((k) => /tfjs-core\/dist\/register_all_gradients\.js$/.test(k))).toHaveLength(1);
    });

    describe.skipIf(!haveChromium)('in headless Chromium', () => {
      let server: Server | undefined;
      let url = '';
      let browser: Browser | undefined;
      let reference: string[] = [];

      beforeAll(async () => {
        server = createServer((req, res) => {
          const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
          const file = normalize(join(web, path));
          if (!file.startsWith(web + sep) || !existsSync(file) || !statSync(file).isFile()) {
            res.writeHead(404).end('not found');
            return;
          }
          const type = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm' }[extname(file)];
          res.writeHead(200, { 'content-type': type ?? 'application/octet-stream', 'cache-control': 'no-store' });
          createReadStream(file).pipe(res);
        });
        await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
        browser = await chromium.launch({
          executablePath: CHROMIUM,
          headless: true,
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--enable-unsafe-swiftshader',
          ],
        });
        // the gradients tfjs itself registers (tfjs-layers' Node build registers them all)
        const r = await sh(process.execPath, ['-e', "require('@tensorflow/tfjs-layers'); console.log(JSON.stringify([...globalThis._tfGlobals.get('gradRegistry').keys()]))"], {
          cwd: scratch('core'),
          env: nodeEnv,
        });
        reference = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '[]');
      }, 120_000);

      afterAll(async () => {
        await browser?.close();
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      });

      /** Opens `path`, waits for its `__result`, returns it with what the page logged. */
      async function open(path: string): Promise<{ ok: boolean; value?: unknown; error?: string; log: string[] }> {
        const p = await (browser as Browser).newPage();
        const log: string[] = [];
        p.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
        p.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
        try {
          await p.goto(url + path);
          await p.waitForFunction(() => (globalThis as unknown as { __result?: unknown }).__result !== undefined, undefined, { timeout: 180_000, polling: 200 });
          const result = (await p.evaluate(() => (globalThis as unknown as { __result: unknown }).__result)) as { ok: boolean; value?: unknown; error?: string };
          return { ...result, log };
        } catch (e) {
          throw new Error(`${path}: ${(e as Error).message}\n${log.join('\n')}`);
        } finally {
          await p.close();
        }
      }

      describe.concurrent('README examples', () => {
        it.each(browserReadmes)('%s', async (d) => {
          const r = await limit(() => open(`${d}/index.html`));
          console.log(`@forgetless/${d} README example in Chromium:\n${r.log.join('\n')}`);
          expect(r.error).toBeUndefined();
          expect(r.ok).toBe(true);
          expect(r.log.filter((l) => l.startsWith('log:')).length, 'the example printed what it computed').toBeGreaterThan(0);
        });
        if (PACKAGES.some(nodeOnly)) console.log(`packaging: README examples run in Node only (they use a /node entry): ${PACKAGES.filter(nodeOnly).join(', ')}`);
      });

      it.each(['forgetless-first', 'layers-first'])('a conv net trains on wasm with tfjs-layers imported %s, the binaries found through wasmPaths', async (name) => {
        const r = await open(`conv/${name}.html`);
        expect(r.error).toBeUndefined();
        const v = r.value as { backend: string; layers: string; accuracy: number; losses: number[]; leaked: number; gradients: string[] };
        console.log(`conv net (${name}): backend ${v.backend}, accuracy ${v.accuracy}, loss ${v.losses[0]?.toFixed(3)} → ${v.losses.at(-1)?.toFixed(3)}`);
        expect(v.backend).toBe('wasm');
        expect(v.layers).toBe(tfVersion);
        expect(v.losses.every(Number.isFinite)).toBe(true);
        expect(v.losses.at(-1)).toBeLessThan(v.losses[0] as number);
        expect(v.accuracy).toBeGreaterThan(0.9);
        expect(v.leaked).toBe(0);
        expect(reference.length).toBeGreaterThan(90);
        expect(
          reference.filter((k) => !v.gradients.includes(k)),
          'kernels whose gradient tfjs registers but the page lacks',
        ).toEqual([]);
      });

      it('useBackend in a bundle: webgl imported is used, wasm not imported and webgpu not installed say to import them', async () => {
        const r = await open('backends/index.html');
        expect(r.error).toBeUndefined();
        const v = r.value as { hasWebGL: boolean; webgl: string; sum: number | null; wasm: string; webgpu: string };
        console.log(`backends page: ${JSON.stringify(v)}`);
        if (v.hasWebGL) {
          expect(v.webgl).toBe('ok webgl');
          expect(v.sum).toBe(8);
        } else {
          expect(v.webgl).toMatch(/backend 'webgl' failed to initialise/);
        }
        expect(v.wasm).toContain("import '@tensorflow/tfjs-backend-wasm';");
        expect(v.wasm).toContain("Bundlers cannot follow useBackend's import by name");
        expect(v.wasm, 'the package is installed: the message must not say otherwise').not.toMatch(/which is not installed/);
        expect(v.webgpu).not.toMatch(/unknown backend/);
        expect(v.webgpu).toMatch(/@tensorflow\/tfjs-backend-webgpu|WebGPU needs/);
      });
    });
  });
});
