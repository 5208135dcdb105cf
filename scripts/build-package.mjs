#!/usr/bin/env node
// Builds one workspace package: ESM + .d.ts with tsc, then a CommonJS twin (dist/*.cjs) with esbuild,
// so `require('@forgetless/x')` works in plain Node as well as `import`.
// Usage (from a package folder): node ../../scripts/build-package.mjs [entry ...]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
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

const external = [
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.peerDependencies ?? {}),
  ...Object.keys(pkg.optionalDependencies ?? {}),
].flatMap((name) => [name, `${name}/*`]);

await build({
  entryPoints: entries.map((e) => join(cwd, 'dist', `${e}.js`)),
  outdir: join(cwd, 'dist'),
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: [...external, 'node:*'],
  logLevel: 'warning',
  allowOverwrite: true,
});
