// Every package README opens with an install line and an example that type-checks under strict
// TypeScript and runs as written. Each README's first TypeScript block (and any block marked
// `<!-- readme-test -->`, or `<!-- readme-test: typecheck -->` for one that needs the user's files) is
// written to a scratch folder that sees the workspace's built packages, type-checked by tsc (strict,
// noUncheckedIndexedAccess, module NodeNext) and run by Node (types stripped by esbuild). The install line must name every package the example imports, and
// those must be the package itself, its dependencies or its peers: what `npm install` gives.
// (test/packaging.test.ts runs the same examples from packed tarballs, as CommonJS and in a browser.)
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGES, type Readme, importedPackages, readReadme } from './readme.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const readmes = PACKAGES.map((dir) => readReadme(root, dir));
const examples = readmes.flatMap((r) => r.examples.map((e, i) => ({ readme: r, index: i, ...e, file: `${r.dir}-${i}` })));
let dir = '';
let typecheck: { ok: boolean; output: string } = { ok: false, output: '' };

/** The package, its dependencies, its peers, and the peers of the forgetless packages it depends on (the backends are @forgetless/core's). */
function allowed(r: Readme): Set<string> {
  const manifest = (dir: string) => JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  const pkg = manifest(r.dir);
  const deps = Object.keys(pkg.dependencies ?? {});
  const peersOfDeps = deps.filter((d) => d.startsWith('@forgetless/')).flatMap((d) => Object.keys(manifest(d.slice('@forgetless/'.length)).peerDependencies ?? {}));
  return new Set([pkg.name, ...deps, ...Object.keys(pkg.peerDependencies ?? {}), ...peersOfDeps]);
}

describe('package READMEs', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forgetless-readme-'));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'readme-examples', private: true, type: 'module' }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noUncheckedIndexedAccess: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        include: ['*.ts'],
      }),
    );
    for (const e of examples) {
      writeFileSync(join(dir, `${e.file}.ts`), e.code);
      writeFileSync(join(dir, `${e.file}.mjs`), (await transform(e.code, { loader: 'ts', format: 'esm', target: 'es2022' })).code);
    }
    try {
      const tsc = join(root, 'node_modules/typescript/bin/tsc');
      const r = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir });
      typecheck = { ok: true, output: r.stdout };
    } catch (e) {
      typecheck = { ok: false, output: (e as { stdout?: string }).stdout ?? String(e) };
    }
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(readmes.map((r) => [r.name, r] as const))('%s opens with an install line naming every package its example imports', (_, r) => {
    expect(r.first.lang, 'the first code block is the install line').toMatch(/^(sh|bash|shell)$/);
    expect(r.install[0], 'the install line starts with the package itself').toBe(r.name);
    expect(r.install).toContain('@tensorflow/tfjs-core');
    expect(r.install.some((p) => p.startsWith('@tensorflow/tfjs-backend-') || p.startsWith('@tensorflow/tfjs-node'))).toBe(true);
    expect(r.examples.length, 'a TypeScript example').toBeGreaterThan(0);
    const ok = allowed(r);
    const opening = r.examples[0];
    for (const p of importedPackages(opening?.code ?? '')) {
      expect(r.install, `${r.name}'s example (README.md:${opening?.line}) imports ${p}`).toContain(p);
    }
    for (const p of r.install) expect(ok.has(p), `${p} (install line) is neither ${r.name}, its dependency, nor a peer of either`).toBe(true);
  });

  it('the examples type-check with strict TypeScript against the built packages', () => {
    // tsc prints `<file>.ts(line,col): error TS…`; name the README and its line instead
    const located = typecheck.output.replace(/^([a-z]+)-(\d+)\.ts\((\d+),(\d+)\)/gm, (_, d: string, i: string, l: string, c: string) => {
      const e = examples.find((x) => x.file === `${d}-${i}`);
      return `packages/${d}/README.md:${(e?.line ?? 0) + Number(l) - 1}:${c}`;
    });
    expect(located, 'tsc reported errors').toBe('');
    expect(typecheck.ok).toBe(true);
  });

  it.each(examples.filter((e) => e.run).map((e) => [`${e.readme.name} README.md:${e.line}`, e] as const))('%s runs as written', async (_, e) => {
    const t0 = Date.now();
    const r = await run(process.execPath, [`${e.file}.mjs`], { cwd: dir, env: { ...process.env, NODE_OPTIONS: '' }, timeout: 240_000 }).catch(
      (err: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`${e.readme.name} README.md:${e.line} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
      },
    );
    console.log(`${e.readme.name} README.md:${e.line}: ${((Date.now() - t0) / 1000).toFixed(1)} s\n${r.stdout.trim()}`);
    expect(r.stdout.trim().length, 'the example prints what it computed').toBeGreaterThan(0);
  });
});
