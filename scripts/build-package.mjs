#!/usr/bin/env node
// Builds one workspace package: ESM + .d.ts with tsc, then a CommonJS twin (dist/*.cjs) with esbuild,
// so `require('@forgetless/x')` works in plain Node as well as `import`, and CommonJS type
// declarations (dist/**/*.d.cts, package.json `exports[...].require.types`), so TypeScript projects
// that compile to CommonJS (`module: node16`) can import the package too.
// Usage (from a package folder): node ../../scripts/build-package.mjs [entry ...]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';

const cwd = process.cwd();
const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8'));
const entries = process.argv.slice(2);
if (entries.length === 0) entries.push('index');

rmSync(join(cwd, 'dist'), { recursive: true, force: true });
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', existsSync(join(cwd, 'tsconfig.build.json')) ? 'tsconfig.build.json' : 'tsconfig.json'], {
  stdio: 'inherit',
  cwd,
});

// Generated JavaScript (not compiled by tsc) is copied beside the compiled output.
if (existsSync(join(cwd, 'src', 'generated'))) {
  cpSync(join(cwd, 'src', 'generated'), join(cwd, 'dist', 'generated'), { recursive: true });
}

writeCjsDeclarations(join(cwd, 'dist'));

const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})].flatMap((name) => [
  name,
  `${name}/*`,
]);

await build({
  entryPoints: entries.map((e) => join(cwd, 'dist', `${e}.js`)),
  outdir: join(cwd, 'dist'),
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // '#…': the package's own subpath imports (package.json "imports"), resolved by Node at run time
  // with the `require` condition, so each entry shares one module instead of inlining a copy.
  external: [...external, 'node:*', '#*'],
  logLevel: 'warning',
  allowOverwrite: true,
});

/**
 * Writes a `.d.cts` twin of every `.d.ts` under `dir`, relative specifiers `./x.js` rewritten to
 * `./x.cjs` (which TypeScript resolves to `./x.d.cts`), and a `.d.cts.map` beside it. TypeScript reads
 * a `.d.ts` of a `"type": "module"` package as an ES module, which a CommonJS file cannot `require`
 * (TS1479 under `module: node16`); a `.d.cts` is a CommonJS declaration, as the `.cjs` twin is.
 */
function writeCjsDeclarations(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = join(dir, entry.name);
    if (entry.isDirectory()) {
      writeCjsDeclarations(file);
      continue;
    }
    if (!entry.name.endsWith('.d.ts')) continue;
    const base = entry.name.slice(0, -'.d.ts'.length);
    let text = readFileSync(file, 'utf8').replace(/(['"])(\.\.?\/[^'"\n]*?)\.js\1/g, '$1$2.cjs$1');
    const map = `${file}.map`;
    if (existsSync(map)) {
      const json = JSON.parse(readFileSync(map, 'utf8'));
      json.file = `${base}.d.cts`;
      writeFileSync(join(dir, `${base}.d.cts.map`), JSON.stringify(json));
      text = text.replace(/\/\/# sourceMappingURL=\S+\s*$/, `//# sourceMappingURL=${base}.d.cts.map\n`);
    }
    writeFileSync(join(dir, `${base}.d.cts`), text);
  }
}
