/**
 * vitest globalSetup of the page's e2e test: builds the page with Vite once, in a child process
 * awaited asynchronously (a `spawnSync` inside the test file blocked the test worker, and on a loaded
 * machine vitest's worker RPC timed out after the tests had passed).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));

export default async function setup(): Promise<void> {
  if (process.env.FORGETLESS_E2E_NO_BUILD === '1') return;
  const vite = join(createRequire(import.meta.url).resolve('vite/package.json'), '..', 'bin', 'vite.js');
  const t0 = Date.now();
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [vite, 'build', '--config', join(HERE, 'vite.config.ts')], {
      cwd: join(HERE, '..'),
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`vite build failed (${code}):\n${output.join('')}`);
  console.log(`demo page e2e: vite build ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
