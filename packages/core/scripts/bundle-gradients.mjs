#!/usr/bin/env node
// tfjs-core ships its gradient functions only as extensionless ES modules
// (`@tensorflow/tfjs-core/dist/register_all_gradients`), which plain Node ESM and CJS cannot import.
// This bundles them into one self-contained file, ESM and CJS. The copy of tfjs-core internals it
// carries shares tfjs-core's global engine and gradient registry (both live on a global namespace),
// so registering here registers for the user's own `@tensorflow/tfjs-core`.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'src', 'generated');
mkdirSync(out, { recursive: true });
// The bundle first imports the user's own tfjs-core (external), so its engine, Tensor class and
// chained ops exist before the bundled copy looks for the global engine.
const require = createRequire(import.meta.url);
const registerAll = join(dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist', 'register_all_gradients.js');
const common = {
  external: ['@tensorflow/tfjs-core'],
  stdin: {
    contents: `import '@tensorflow/tfjs-core';\nimport ${JSON.stringify(registerAll)};`,
    resolveDir: here,
    loader: 'js',
  },
  bundle: true,
  minify: true,
  legalComments: 'inline',
  mainFields: ['module', 'main'],
  logLevel: 'warning',
};
await build({ ...common, format: 'esm', platform: 'neutral', outfile: join(out, 'tfjs-gradients.js') });
await build({ ...common, format: 'cjs', platform: 'node', outfile: join(out, 'tfjs-gradients.cjs') });
