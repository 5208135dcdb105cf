// What importing @forgetless/core registers in Node (the built packages, fresh processes):
// - every gradient tfjs itself registers (the reference: tfjs-layers' Node build registers them all),
//   from ESM and from CommonJS;
// - only what is missing: a gradient registered before @forgetless/core is imported stays, except for
//   the kernels forgetless registers its own for (`ownGradientKernels()`).
// (test/packaging.test.ts checks the browser side: in a bundle, tfjs's gradient code is tfjs-core's
// own modules, included once beside tfjs-layers, and complete in Chromium.)
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const KEYS = "[...globalThis._tfGlobals.get('gradRegistry').keys()]";

function node(args: string[]): string {
  const out = execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  return out.trim().split('\n').at(-1) ?? '';
}
const esm = (code: string) => JSON.parse(node(['--input-type=module', '-e', code]));
const cjs = (code: string) => JSON.parse(node(['-e', code]));

describe('gradients registered by importing @forgetless/core in Node', () => {
  const reference: string[] = cjs(`require('@tensorflow/tfjs-layers'); console.log(JSON.stringify(${KEYS}))`);

  it("the reference is tfjs's full set", () => {
    expect(reference.length).toBeGreaterThan(90);
    expect(reference).toContain('Conv2D');
  });

  it.each([
    ['ESM', () => esm(`await import('@forgetless/core'); console.log(JSON.stringify(${KEYS}))`)],
    ['CommonJS', () => cjs(`require('@forgetless/core'); console.log(JSON.stringify(${KEYS}))`)],
  ])('every gradient tfjs registers (%s)', (_, run) => {
    const keys = run() as string[];
    expect(reference.filter((k) => !keys.includes(k))).toEqual([]);
  });

  const before = `const mine = { kernelName: 'Relu', inputsToSave: ['x'], gradFunc: (dy) => ({ x: () => dy }) };
tf.registerGradient(mine);`;
  it.each([
    [
      'ESM',
      () =>
        esm(
          `import * as tf from '@tensorflow/tfjs-core';\n${before}\nconst core = await import('@forgetless/core');\nconsole.log(JSON.stringify({ kept: tf.getGradient('Relu') === mine, own: core.ownGradientKernels(), conv: !!tf.getGradient('Conv2D') }));`,
        ),
    ],
    [
      'CommonJS',
      () =>
        cjs(
          `const tf = require('@tensorflow/tfjs-core');\n${before}\nconst core = require('@forgetless/core');\nconsole.log(JSON.stringify({ kept: tf.getGradient('Relu') === mine, own: core.ownGradientKernels(), conv: !!tf.getGradient('Conv2D') }));`,
        ),
    ],
  ])('only the missing ones: a gradient registered before stays (%s)', (_, run) => {
    const r = run() as { kept: boolean; own: string[]; conv: boolean };
    expect(r.own).not.toContain('Relu');
    expect(r.kept).toBe(true);
    expect(r.conv).toBe(true);
  });
});
