/**
 * The embedded Fashion-MNIST subset on disk (Node). The data folder is found relative to this module:
 * `dist/*.js` (ESM) and `dist/*.cjs` (CommonJS twin) and `src/*.ts` (tests) all sit one level below the
 * package root. ESM has `import.meta.url`, the CommonJS twin `__dirname`; both are handled.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBEDDED_FOLDER, EMBEDDED_SOURCE } from './embedded.js';
import type { MnistFormatDataset } from './mnist-format.js';
import { loadMnistFormat } from './read-files.js';

/** The absolute path of the embedded data folder inside the installed package. */
export function embeddedDataDir(): string {
  // ESM first: a global __dirname can exist beside ESM (e.g. under `node -e`) and point elsewhere.
  // In the CommonJS twin esbuild empties import.meta (it warns at build time), so __dirname is used there.
  const url = (import.meta as { url?: string }).url;
  const here = url ? dirname(fileURLToPath(url)) : __dirname;
  const dir = join(here, '..', EMBEDDED_FOLDER);
  if (!existsSync(dir)) throw new Error(`embedded data not found at ${dir} (is the package's data folder installed?)`);
  return dir;
}

/** The embedded class-balanced Fashion-MNIST subset (10000 training, 2000 test images), checksums verified. */
export async function loadEmbedded(): Promise<MnistFormatDataset> {
  const dir = embeddedDataDir();
  const data = await loadMnistFormat({ dir, name: EMBEDDED_SOURCE.name, checksums: EMBEDDED_SOURCE.checksums });
  return { ...data, source: `embedded:${dir}` };
}
