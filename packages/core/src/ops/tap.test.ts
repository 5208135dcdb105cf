import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../../test/helpers.js';
import '../gradients.js';
import { addTap, setLightTaps, zeroTap } from './tap.js';
import { onWasm } from './wasm.test-helpers.js';

/** y = Σ w·tanh(addTap(x·s, tap)): its value and gradients for x and the tap, and the kernels run. */
async function run(makeTap: (shape: number[]) => tf.Tensor) {
  const x = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 1);
  const w = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 2);
  const tap = makeTap(x.shape);
  let out: { y: Float32Array; dx: Float32Array; dt: Float32Array } | undefined;
  const p = await tf.profile(() => {
    tf.tidy(() => {
      const f = (a: tf.Tensor, t: tf.Tensor) => tf.sum(tf.mul(w, tf.tanh(addTap(tf.mul(a, 1.5), t))));
      const y = f(x, tap);
      const [dx, dt] = tf.grads((a, t) => f(a as tf.Tensor, t as tf.Tensor))([x, tap]);
      out = { y: y.dataSync().slice() as Float32Array, dx: (dx as tf.Tensor).dataSync().slice() as Float32Array, dt: (dt as tf.Tensor).dataSync().slice() as Float32Array };
    });
    return [];
  });
  tf.dispose([x, w, tap]);
  return { ...(out as NonNullable<typeof out>), adds: p.kernels.filter((k) => k.name === 'Add').length };
}

describe('taps (addTap, zeroTap)', () => {
  afterAll(async () => {
    setLightTaps(true);
    await tf.setBackend('cpu');
  });

  it.each(['cpu', 'wasm'] as const)(
    '%s: a zero tap leaves z as it is with no Add, and its gradient and that of z are bit for bit those of z + zeros; any other tap is added',
    async (backend) => {
      const body = async () => {
        await expectNoLeak(async () => {
          const light = await run((s) => zeroTap(s));
          const plain = await run((s) => tf.zeros(s));
          setLightTaps(false);
          const off = await run((s) => zeroTap(s));
          setLightTaps(true);
          // no Add for the zero tap (f runs twice: its value, then under tf.grads; its own ops add nothing)
          expect([light.adds, plain.adds, off.adds]).toEqual([0, 2, 2]);
          for (const k of ['y', 'dx', 'dt'] as const) {
            expect(Array.from(light[k]), k).toEqual(Array.from(plain[k]));
            expect(Array.from(off[k]), `${k} (light taps off)`).toEqual(Array.from(plain[k]));
          }
          // the tap's gradient is the upstream gradient at z: w·(1 − tanh²(1.5x)), by hand from the same x and w
          const [x, w] = tf.tidy(() => [1, 2].map((seed) => tf.randomNormal([3, 4, 5], 0, 1, 'float32', seed).dataSync() as Float32Array)) as [Float32Array, Float32Array];
          const want = Array.from(x, (v, i) => (w[i] as number) * (1 - Math.tanh(1.5 * v) ** 2));
          light.dt.forEach((v, i) => expect(Math.abs(v - (want[i] as number))).toBeLessThanOrEqual(1e-5));
          // a tap that is not a zero tap is added: its values count
          const filled = await run((s) => tf.fill(s, 0.25));
          expect(filled.adds).toBe(2);
          expect(Array.from(filled.y)).not.toEqual(Array.from(plain.y));
        });
      };
      if (backend === 'wasm') await onWasm(body);
      else await body();
    },
  );
});
