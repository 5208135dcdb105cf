/*
 * Optimizer updates in WebAssembly SIMD, for forgetless's one-call SGD and Adam steps on
 * tfjs-backend-wasm (`sgd-wasm.ts`, `adam-wasm.ts`). Linked into the same module as the depthwise
 * kernels (scripts/build-wasm.mjs) under the same rules: it imports tfjs-wasm's memory, every pointer
 * is a byte offset into tfjs's heap, and the code keeps no memory of its own.
 *
 * Each update computes, value by value, exactly the float32 operations tfjs's optimizer issues as
 * separate ops (every product and sum rounded on its own: no fused multiply-add, which plain
 * WebAssembly SIMD does not have and which contraction is turned off for below), so the results are
 * bit for bit those of `optimizer.applyGradients` on wasm, in one pass over the tensors instead of
 * one pass and one kernel call per op.
 *   SGD   θ' = c·g + θ                                   (c = −lr)
 *   Adam  m' = m·β1 + g·(1−β1),  v' = v·β2 + (g·g)·(1−β2),
 *         θ' = ((m'/(1−β1ᵗ)) / (√(v'/(1−β2ᵗ)) + ε))·(−lr) + θ
 */
#include <wasm_simd128.h>
#pragma clang fp contract(off)

typedef float f32;
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)

__attribute__((export_name("sgd_update"))) void sgd_update(const f32 *theta, const f32 *g, f32 *out, int n, f32 c) {
  const v128_t C = wasm_f32x4_splat(c);
  int i = 0;
  for (; i + 4 <= n; i += 4) ST(out + i, wasm_f32x4_add(wasm_f32x4_mul(C, LD(g + i)), LD(theta + i)));
  for (; i < n; i++) out[i] = c * g[i] + theta[i];
}

/*
 * One variable's Adam step: θ, g, m, v in; θ', m', v' out (new buffers). omab1, omab2: 1 − β1ᵗ and
 * 1 − β2ᵗ as tfjs rounds them (float32).
 */
__attribute__((export_name("adam_update"))) void adam_update(const f32 *theta, const f32 *g, const f32 *m, const f32 *v, f32 *ot, f32 *om, f32 *ov, int n, f32 b1,
                                                             f32 omb1, f32 b2, f32 omb2, f32 omab1, f32 omab2, f32 eps, f32 neglr) {
  const v128_t B1 = wasm_f32x4_splat(b1), OMB1 = wasm_f32x4_splat(omb1), B2 = wasm_f32x4_splat(b2), OMB2 = wasm_f32x4_splat(omb2);
  const v128_t OMAB1 = wasm_f32x4_splat(omab1), OMAB2 = wasm_f32x4_splat(omab2), EPS = wasm_f32x4_splat(eps), LR = wasm_f32x4_splat(neglr);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t G = LD(g + i);
    const v128_t M = wasm_f32x4_add(wasm_f32x4_mul(LD(m + i), B1), wasm_f32x4_mul(G, OMB1));
    const v128_t V = wasm_f32x4_add(wasm_f32x4_mul(LD(v + i), B2), wasm_f32x4_mul(wasm_f32x4_mul(G, G), OMB2));
    ST(om + i, M);
    ST(ov + i, V);
    const v128_t mh = wasm_f32x4_div(M, OMAB1);
    const v128_t vh = wasm_f32x4_div(V, OMAB2);
    const v128_t step = wasm_f32x4_mul(wasm_f32x4_div(mh, wasm_f32x4_add(wasm_f32x4_sqrt(vh), EPS)), LR);
    ST(ot + i, wasm_f32x4_add(step, LD(theta + i)));
  }
  for (; i < n; i++) {
    const f32 G = g[i];
    const f32 M = m[i] * b1 + G * omb1;
    const f32 V = v[i] * b2 + (G * G) * omb2;
    om[i] = M;
    ov[i] = V;
    const f32 mh = M / omab1, vh = V / omab2;
    ot[i] = (mh / (__builtin_sqrtf(vh) + eps)) * neglr + theta[i];
  }
}
