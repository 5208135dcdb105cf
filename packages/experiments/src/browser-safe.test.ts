// The runner is shared with the browser page: nothing in this package may import Node modules
// or the Node-only entries of the packages (`@forgetless/*/node`).
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('@forgetless/experiments', () => {
  it('imports no node:* module and no /node entry', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    // src/node.ts and src/node/ are the Node entry (`@forgetless/experiments/node`)
    const files = (await readdir(here)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'node.ts');
    expect(files.length).toBeGreaterThan(6);
    for (const f of files) {
      const imports = [...(await readFile(join(here, f), 'utf8')).matchAll(/^import[^;]*from '([^']+)'/gm)].map((m) => m[1] as string);
      for (const spec of imports) {
        expect(spec.startsWith('node:') || /\/node$/.test(spec) || spec.startsWith('./node') || ['fs', 'path', 'os', 'child_process'].includes(spec), `${f} imports ${spec}`).toBe(
          false,
        );
      }
    }
  });
});
