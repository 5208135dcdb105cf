/*
 * Max pooling's input gradient (NHWC) in WebAssembly SIMD, for forgetless's tfjs-backend-wasm kernel
 * (`max-pool.ts`). Linked into the same module as the depthwise kernels (`depthwise-simd.c`,
 * scripts/build-wasm.mjs) under the same rules: it imports tfjs-wasm's memory, every pointer is a byte
 * offset into tfjs's heap, and the code keeps no memory of its own (no globals, static data or C stack).
 *
 * Each window passes δ to its first maximum in row-major order of its taps, as tfjs's cpu kernel and
 * forgetless's composed gradient do (ties, e.g. all-zero windows after a ReLU, go to the first):
 *   ∂x[p] = Σ_windows w∋p  δ[w]·[p is the first tap of w whose x equals the window's output y[w]].
 * A tap is the maximum where x == y (the forward's output, so the same float, the same comparison the
 * composed form makes; a NaN matches nothing). Taps outside the image (the 'same' padding) are skipped:
 * the composed form pads with −3.4e38, which no output equals. The composed form sums the windows'
 * contributions to a position tap by tap (an AddN over kh·kw scattered parts); this kernel adds them
 * window by window: the same terms (at most ⌈kh/sh⌉·⌈kw/sw⌉ non-zero ones), in another order.
 */
#include <wasm_simd128.h>

typedef float f32;
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)

/*
 * ∂x [N, H, W, C] of y = maxPool(x) [N, Ho, Wo, C] for dy [N, Ho, Wo, C]: windows kh×kw, strides sh, sw,
 * padding pt (top) and pl (left) (the rest of 'same' padding lies past the image and needs no bound).
 */
__attribute__((export_name("max_pool_grad"))) void max_pool_grad(const f32 *x, const f32 *y, const f32 *dy, f32 *dx, int N, int H, int W, int C, int Ho, int Wo,
                                                                  int kh, int kw, int sh, int sw, int pt, int pl) {
  const int C4 = C & ~3;
  const long total = (long)N * H * W * C;
  for (long e = 0; e < total; e++) dx[e] = 0.f;
  for (int n = 0; n < N; n++) {
    const f32 *xn = x + (long)n * H * W * C;
    f32 *dn = dx + (long)n * H * W * C;
    for (int i = 0; i < Ho; i++) {
      const int r0 = i * sh - pt;
      const int a0 = r0 < 0 ? -r0 : 0, a1 = r0 + kh > H ? H - r0 : kh; /* the window's taps inside the image: rows [a0, a1) */
      for (int j = 0; j < Wo; j++) {
        const int c0 = j * sw - pl;
        const int b0 = c0 < 0 ? -c0 : 0, b1 = c0 + kw > W ? W - c0 : kw;
        const long o = (((long)n * Ho + i) * Wo + j) * C;
        int c = 0;
        for (; c < C4; c += 4) {
          const v128_t yv = LD(y + o + c), dv = LD(dy + o + c);
          v128_t taken = wasm_i32x4_splat(0);
          for (int a = a0; a < a1; a++)
            for (int b = b0; b < b1; b++) {
              const long p = ((long)(r0 + a) * W + (c0 + b)) * C + c;
              /* lanes whose first maximum this tap is: x == y, and no earlier tap was */
              const v128_t eq = wasm_v128_andnot(wasm_f32x4_eq(LD(xn + p), yv), taken);
              ST(dn + p, wasm_f32x4_add(LD(dn + p), wasm_v128_and(dv, eq)));
              taken = wasm_v128_or(taken, eq);
            }
        }
        for (; c < C; c++) {
          const f32 yv = y[o + c], dv = dy[o + c];
          int done = 0;
          for (int a = a0; a < a1 && !done; a++)
            for (int b = b0; b < b1; b++) {
              const long p = ((long)(r0 + a) * W + (c0 + b)) * C + c;
              if (xn[p] == yv) {
                dn[p] += dv;
                done = 1;
                break;
              }
            }
        }
      }
    }
  }
}

/*
 * Average pooling's input gradient (NHWC), the derivative of tfjs's forward, which divides each window's
 * sum by the number of its taps inside the image (TensorFlow's convention; padding is not counted):
 *   ∂x[p] = Σ_windows w∋p  δ[w] / count(w).
 * (tfjs's own AvgPoolGrad divides by kh·kw everywhere: wrong for windows that overlap the padding.)
 * Windows kh×kw, strides sh, sw, padding pt (top) and pl (left); added window by window.
 */
__attribute__((export_name("avg_pool_grad"))) void avg_pool_grad(const f32 *dy, f32 *dx, int N, int H, int W, int C, int Ho, int Wo, int kh, int kw, int sh, int sw,
                                                                  int pt, int pl) {
  const int C4 = C & ~3;
  const long total = (long)N * H * W * C;
  for (long e = 0; e < total; e++) dx[e] = 0.f;
  for (int n = 0; n < N; n++) {
    f32 *dn = dx + (long)n * H * W * C;
    for (int i = 0; i < Ho; i++) {
      const int r0 = i * sh - pt;
      const int a0 = r0 < 0 ? -r0 : 0, a1 = r0 + kh > H ? H - r0 : kh;
      for (int j = 0; j < Wo; j++) {
        const int c0 = j * sw - pl;
        const int b0 = c0 < 0 ? -c0 : 0, b1 = c0 + kw > W ? W - c0 : kw;
        const int count = (a1 - a0) * (b1 - b0);
        if (count <= 0) continue;
        const f32 inv = 1.f / (f32)count;
        const v128_t vinv = wasm_f32x4_splat(inv);
        const f32 *dw = dy + (((long)n * Ho + i) * Wo + j) * C;
        for (int a = a0; a < a1; a++)
          for (int b = b0; b < b1; b++) {
            f32 *d = dn + ((long)(r0 + a) * W + (c0 + b)) * C;
            int c = 0;
            for (; c < C4; c += 4) ST(d + c, wasm_f32x4_add(LD(d + c), wasm_f32x4_mul(LD(dw + c), vinv)));
            for (; c < C; c++) d[c] += dw[c] * inv;
          }
      }
    }
  }
}
