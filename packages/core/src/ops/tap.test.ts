import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../../test/helpers.js';
import '../gradients.js';
import { addTap, recordingTap, setLightTaps, zeroTap } from './tap.js';
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

describe('recording taps (recordingTap)', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['cpu', 'wasm'] as const)('%s: δ recorded at the tapped z is bit for bit the gradient of a zero tap, with no tensor of z’s shape made', async (backend) => {
    const body = async () => {
      await expectNoLeak(async () => {
        const x = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 1);
        const w = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 2);
        // two taps in a chain, as two layers: z1 = 1.5x, z2 = tanh(z1)·0.5; y = Σ w·tanh(z2)
        const f = (t1: tf.Tensor, t2: tf.Tensor) => tf.sum(tf.mul(w, tf.tanh(addTap(tf.mul(tf.tanh(addTap(tf.mul(x, 1.5), t1)), 0.5), t2))));
        const [want1, want2] = tf.tidy(() => {
          const z = [zeroTap(x.shape), zeroTap(x.shape)];
          const g = tf.grads((a, b) => f(a as tf.Tensor, b as tf.Tensor))(z);
          tf.dispose(z);
          return g.map((t) => tf.keep(t));
        }) as [tf.Tensor, tf.Tensor];
        const r = [recordingTap(), recordingTap()];
        let d: tf.Tensor[] = [];
        const p = await tf.profile(() => {
          tf.tidy(() => {
            const g = tf.grads((a, b) => f(a as tf.Tensor, b as tf.Tensor))(r.map((q) => q.tap));
            // the scalars' own gradients are zeros
            for (const s of g) expect(Array.from(s.dataSync())).toEqual([0]);
          });
          d = r.map((q) => q.delta());
          return [];
        });
        expect(Array.from((d[0] as tf.Tensor).dataSync())).toEqual(Array.from(want1.dataSync()));
        expect(Array.from((d[1] as tf.Tensor).dataSync())).toEqual(Array.from(want2.dataSync()));
        // no Fill or Add of z's shape: the taps are scalars, and nothing adds them
        expect(p.kernels.filter((k) => k.name === 'Add' || k.name === 'Fill').filter((k) => k.outputShapes.some((s) => s && s.length > 0))).toEqual([]);
        // taken once: a second take throws, naming the function
        expect(() => (r[0] as ReturnType<typeof recordingTap>).delta()).toThrow(/recordingTap: no gradient was recorded/);
        tf.dispose([x, w, want1, want2, ...d]);
        for (const q of r) q.dispose();
      });
    };
    if (backend === 'wasm') await onWasm(body);
    else await body();
  });

  it('a tap off the differentiated path records nothing and says so; disposing releases what was recorded and not taken', async () => {
    await expectNoLeak(async () => {
      const x = tf.ones([2, 3]);
      const used = recordingTap();
      const unused = recordingTap();
      tf.tidy(() => {
        const a = addTap(tf.mul(x, 2), used.tap);
        addTap(tf.mul(x, 3), unused.tap); // computed, never reaches the value
        const [g] = tf.grads((t) => tf.sum(tf.mul(addTap(tf.mul(x, 2), t as tf.Tensor), a)))([used.tap]);
        expect((g as tf.Tensor).dataSync()[0]).toBe(0);
      });
      expect(() => unused.delta()).toThrow(/not on the path/);
      // `used` recorded δ = a = 2 (d/dz Σ z·a, a a constant here) and is disposed with its δ untaken
      used.dispose();
      unused.dispose();
      x.dispose();
    });
  });
});
