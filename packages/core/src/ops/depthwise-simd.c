/*
 * Depthwise convolution kernels (NHWC) in WebAssembly SIMD for forgetless's tfjs-backend-wasm
 * kernels (`depthwise-simd.ts`). Built by `npm run build:wasm -w @forgetless/core`
 * (scripts/build-wasm.mjs): clang 14, wasm32, -O3 -msimd128, no libc, IMPORTING tfjs-wasm's memory,
 * so every pointer below is a byte offset into tfjs's heap (tensors read and written in place).
 *
 * The code must never touch linear memory of its own: no globals, no static data, no C stack
 * (no arrays or address-taken locals; the build checks that `__stack_pointer` is never used).
 *
 * Depth multiplier 1 throughout (K channels, filter [kh, kw, K]); depth multiplier M > 1 runs as
 * M = 1 on the input expanded to K = C·M channels (`dw_expand`), the input gradient summed back over
 * m (`dw_reduce`). With stride s, dilation d, padding top/left pt/pl:
 *   forward  y[n,i,j,k]  = Σ_{a,b} x[n, i·sh − pt + a·dh, j·sw − pl + b·dw, k] · w[a,b,k]
 *   input    dx[n,p,q,k] = Σ_{a,b: p = i·sh − pt + a·dh, q = j·sw − pl + b·dw} dy[n,i,j,k] · w[a,b,k]
 *   filter   dw[a,b,k]   = Σ_{n,i,j} x[n, i·sh − pt + a·dh, j·sw − pl + b·dw, k] · dy[n,i,j,k]
 * (taps outside the input are zeros). All three vectorise over 4 channels and register-block four
 * output pixels (forward, input gradient: one filter load per four pixel loads; at 3×3 stride 2 the
 * forward up to six, the input gradient eight)
 * or up to four taps (filter gradient: one dy load per four x loads; three taps over 8 channels, where
 * at stride 1 a pixel's taps 0 and 1 are the previous pixel's taps 1 and 2 and stay in registers, one
 * x load per dy load, and at stride 2 its tap 0 is the previous one's tap 2), so a multiply-add costs
 * ~1.25 loads or fewer. Before each dy row the filter gradient reads one word per cache line of the
 * next dy row and of the x rows it adds (wasm has no prefetch instruction): its 8-channel chunks walk a
 * row's pixels K floats apart, an order in which lines come from memory slowly; read ahead in address
 * order they arrive while the current row computes (0.45–1.08× the time with cold caches, 0.95–1.13×
 * warm, 0.91× for these kernels inside a MobileNetV2 step: benchmark README). At unit stride the
 * input gradient runs on the forward kernels (dy with the filter flipped, `dw_input_grad`).
 */
#include <wasm_simd128.h>

typedef float f32;
#define INLINE static inline __attribute__((always_inline))
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)
#define MADD(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))

/* ---------------------------------------------------------------- forward */

/* Filter rows a in [*lo, *hi) whose input row ih0 + a·D lies inside [0, H). */
INLINE void tap_rows(int ih0, int D, int KH, int H, int *lo, int *hi) {
  int l = ih0 < 0 ? (-ih0 + D - 1) / D : 0;
  int h = ih0 > H - 1 ? 0 : (H - 1 - ih0) / D + 1;
  if (h > KH) h = KH;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* XOR of one 32-bit word per 64-byte line of [p, p + n floats): a read that pulls the lines into cache in order
   (the floats' bits read as integers through a may_alias type). */
typedef unsigned __attribute__((may_alias)) u32_alias;
INLINE unsigned touch(const f32 *p, int n) {
  const u32_alias *u = (const u32_alias *)p;
  unsigned s = 0;
  for (int e = 0; e < n; e += 16) s ^= u[e];
  return s;
}

/* One output pixel (n, i, j) at the image's edges: filter rows [alo, ahi), each column tap bounds-checked. */
INLINE void fw_pixel(const f32 *xn, const f32 *w, f32 *yp, int W, int K, int KW, int TS, int DH, int DW, int ih0, int iw0, int alo, int ahi) {
  int k = 0;
  for (; k + 4 <= K; k += 4) {
    v128_t acc = wasm_f32x4_splat(0.f);
    for (int a = alo; a < ahi; a++) {
      int ih = ih0 + a * DH;
      for (int b = 0; b < KW; b++) {
        int iw = iw0 + b * DW;
        if (iw < 0 || iw >= W) continue;
        MADD(acc, LD(xn + (ih * W + iw) * K + k), LD(w + (a * KW + b) * TS + k));
      }
    }
    ST(yp + k, acc);
  }
  for (; k < K; k++) {
    f32 acc = 0.f;
    for (int a = alo; a < ahi; a++) {
      int ih = ih0 + a * DH;
      for (int b = 0; b < KW; b++) {
        int iw = iw0 + b * DW;
        if (iw < 0 || iw >= W) continue;
        acc += xn[(ih * W + iw) * K + k] * w[(a * KW + b) * TS + k];
      }
    }
    yp[k] = acc;
  }
}

/*
 * Four output pixels (n, i, j..j+3) whose column taps all lie inside the image, filter rows
 * [alo, ahi). KWC: the filter width as a compile-time constant (the tap loop unrolled), 0 for any.
 */
INLINE void fw_block4(const f32 *xn, const f32 *w, f32 *yp, int W, int K, int KW, int TS, int SW, int DH, int DW, int ih0, int iw0, int alo, int ahi, const int KWC) {
  const int kw = KWC ? KWC : KW;
  const int ps = SW * K; /* x offset between the four pixels */
  int k = 0;
  if (KWC == 3 && SW == 1 && DW == 1) {
    /* 3 wide, unit stride and dilation: the four pixels' taps share columns, 6 x loads for 12 products */
    for (; k + 4 <= K; k += 4) {
      v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, a2 = a0, a3 = a0;
      for (int a = alo; a < ahi; a++) {
        const f32 *xr = xn + ((ih0 + a * DH) * W + iw0) * K + k;
        const f32 *wr = w + a * 3 * TS + k;
        v128_t x0 = LD(xr), x1 = LD(xr + K), x2 = LD(xr + 2 * K), x3 = LD(xr + 3 * K), x4 = LD(xr + 4 * K), x5 = LD(xr + 5 * K);
        v128_t w0 = LD(wr), w1 = LD(wr + TS), w2 = LD(wr + 2 * TS);
        MADD(a0, x0, w0);
        MADD(a1, x1, w0);
        MADD(a2, x2, w0);
        MADD(a3, x3, w0);
        MADD(a0, x1, w1);
        MADD(a1, x2, w1);
        MADD(a2, x3, w1);
        MADD(a3, x4, w1);
        MADD(a0, x2, w2);
        MADD(a1, x3, w2);
        MADD(a2, x4, w2);
        MADD(a3, x5, w2);
      }
      ST(yp + k, a0);
      ST(yp + K + k, a1);
      ST(yp + 2 * K + k, a2);
      ST(yp + 3 * K + k, a3);
    }
  }
  if (KWC == 3 && SW == 2 && DW == 1) {
    /* 3 wide, stride 2: the four pixels' taps span 9 columns, 9 x loads for 12 products */
    for (; k + 4 <= K; k += 4) {
      v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, a2 = a0, a3 = a0;
      for (int a = alo; a < ahi; a++) {
        const f32 *xr = xn + ((ih0 + a * DH) * W + iw0) * K + k;
        const f32 *wr = w + a * 3 * TS + k;
        v128_t w0 = LD(wr), w1 = LD(wr + TS), w2 = LD(wr + 2 * TS);
        v128_t x0 = LD(xr), x1 = LD(xr + K), x2 = LD(xr + 2 * K);
        MADD(a0, x0, w0);
        MADD(a0, x1, w1);
        MADD(a0, x2, w2);
        v128_t x3 = LD(xr + 3 * K), x4 = LD(xr + 4 * K);
        MADD(a1, x2, w0);
        MADD(a1, x3, w1);
        MADD(a1, x4, w2);
        v128_t x5 = LD(xr + 5 * K), x6 = LD(xr + 6 * K);
        MADD(a2, x4, w0);
        MADD(a2, x5, w1);
        MADD(a2, x6, w2);
        v128_t x7 = LD(xr + 7 * K), x8 = LD(xr + 8 * K);
        MADD(a3, x6, w0);
        MADD(a3, x7, w1);
        MADD(a3, x8, w2);
      }
      ST(yp + k, a0);
      ST(yp + K + k, a1);
      ST(yp + 2 * K + k, a2);
      ST(yp + 3 * K + k, a3);
    }
  }
  for (; k + 4 <= K; k += 4) {
    v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, a2 = a0, a3 = a0;
    for (int a = alo; a < ahi; a++) {
      const f32 *xr = xn + ((ih0 + a * DH) * W + iw0) * K + k;
      const f32 *wr = w + a * kw * TS + k;
      for (int b = 0; b < kw; b++) {
        v128_t wv = LD(wr + b * TS);
        const f32 *xp = xr + b * DW * K;
        MADD(a0, LD(xp), wv);
        MADD(a1, LD(xp + ps), wv);
        MADD(a2, LD(xp + 2 * ps), wv);
        MADD(a3, LD(xp + 3 * ps), wv);
      }
    }
    ST(yp + k, a0);
    ST(yp + K + k, a1);
    ST(yp + 2 * K + k, a2);
    ST(yp + 3 * K + k, a3);
  }
  for (; k < K; k++) {
    f32 a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
    for (int a = alo; a < ahi; a++) {
      for (int b = 0; b < kw; b++) {
        f32 wv = w[(a * kw + b) * TS + k];
        const f32 *xp = xn + ((ih0 + a * DH) * W + iw0 + b * DW) * K + k;
        a0 += xp[0] * wv;
        a1 += xp[ps] * wv;
        a2 += xp[2 * ps] * wv;
        a3 += xp[3 * ps] * wv;
      }
    }
    yp[k] = a0;
    yp[K + k] = a1;
    yp[2 * K + k] = a2;
    yp[3 * K + k] = a3;
  }
}

/*
 * P ≤ 6 output pixels (n, i, j..j+P−1) of a 3-wide filter at stride 2, dilation 1, every column tap
 * inside the image, filter rows [alo, ahi). Two loops over the filter rows: taps 0 and 2 (pixel s
 * reads columns 2s and 2s + 2, the second shared with pixel s + 1: 2 filter + P + 1 input loads for
 * 2P products), then tap 1 (1 + P loads for P products); 16 loads for 18 products at P = 6.
 * V8's optimising compiler issues every load of a loop body before the arithmetic that uses it, so a
 * body may hold no more vectors than the 15 registers it allocates: here P accumulators + 2 weights +
 * P + 1 inputs. The eight-pixel block this replaces held 17 inputs, 3 weights and 8 accumulators per
 * filter row and spilled ~14 vectors to the stack per row; this one is 1.4× faster at 96 channels,
 * 48². P is a compile-time constant after inlining.
 */
INLINE void fw_blockp_k3s2(const f32 *xn, const f32 *w, f32 *yp, int W, int K, int TS, int DH, int ih0, int iw0, int alo, int ahi, const int P) {
  for (int k = 0; k + 4 <= K; k += 4) {
    v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    /* taps 0 and 2: pixel s reads columns 2s and 2s + 2, the second shared with pixel s + 1 */
#pragma clang loop unroll(disable)
    for (int a = alo; a < ahi; a++) {
      const f32 *xr = xn + ((ih0 + a * DH) * W + iw0) * K + k;
      const f32 *wr = w + a * 3 * TS + k;
      const v128_t w0 = LD(wr), w2 = LD(wr + 2 * TS);
      v128_t x = LD(xr);
      MADD(a0, x, w0);
      x = LD(xr + 2 * K);
      MADD(a0, x, w2);
      if (P > 1) { MADD(a1, x, w0); x = LD(xr + 4 * K); MADD(a1, x, w2); }
      if (P > 2) { MADD(a2, x, w0); x = LD(xr + 6 * K); MADD(a2, x, w2); }
      if (P > 3) { MADD(a3, x, w0); x = LD(xr + 8 * K); MADD(a3, x, w2); }
      if (P > 4) { MADD(a4, x, w0); x = LD(xr + 10 * K); MADD(a4, x, w2); }
      if (P > 5) { MADD(a5, x, w0); x = LD(xr + 12 * K); MADD(a5, x, w2); }
    }
    /* tap 1: column 2s + 1 */
#pragma clang loop unroll(disable)
    for (int a = alo; a < ahi; a++) {
      const f32 *xr = xn + ((ih0 + a * DH) * W + iw0 + 1) * K + k;
      const v128_t w1 = LD(w + (a * 3 + 1) * TS + k);
      MADD(a0, LD(xr), w1);
      if (P > 1) MADD(a1, LD(xr + 2 * K), w1);
      if (P > 2) MADD(a2, LD(xr + 4 * K), w1);
      if (P > 3) MADD(a3, LD(xr + 6 * K), w1);
      if (P > 4) MADD(a4, LD(xr + 8 * K), w1);
      if (P > 5) MADD(a5, LD(xr + 10 * K), w1);
    }
    ST(yp + k, a0);
    if (P > 1) ST(yp + K + k, a1);
    if (P > 2) ST(yp + 2 * K + k, a2);
    if (P > 3) ST(yp + 3 * K + k, a3);
    if (P > 4) ST(yp + 4 * K + k, a4);
    if (P > 5) ST(yp + 5 * K + k, a5);
  }
}

/* NAME_P: the block kernel IMPL with its pixel count P a compile-time constant, one small function each (they compile better in the engines). */
#define FW_BLOCK_P(NAME, IMPL, P_)                                                                                                                          \
  __attribute__((noinline)) static void NAME##_##P_(const f32 *xn, const f32 *w, f32 *yp, int W, int K, int TS, int DH, int ih0, int iw0, int alo, int ahi) { \
    IMPL(xn, w, yp, W, K, TS, DH, ih0, iw0, alo, ahi, P_);                                                                                                   \
  }
FW_BLOCK_P(fw_k3s2, fw_blockp_k3s2, 3)
FW_BLOCK_P(fw_k3s2, fw_blockp_k3s2, 4)
FW_BLOCK_P(fw_k3s2, fw_blockp_k3s2, 5)
FW_BLOCK_P(fw_k3s2, fw_blockp_k3s2, 6)

/*
 * Interior columns [j, hi) of one output row, 3 wide, stride 2, dilation 1, K a multiple of 4: blocks
 * of six pixels, the last one or two of three to five so that no pixel is left over (at 48²: 23
 * interior columns = 6 + 6 + 6 + 5). Returns where it stopped (hi, or j when fewer than three).
 */
INLINE int fw_row_k3s2(const f32 *xn, const f32 *w, f32 *yr, int W, int K, int TS, int DH, int PL, int ih0, int alo, int ahi, int j, int hi) {
  for (; hi - j >= 10; j += 6) fw_k3s2_6(xn, w, yr + j * K, W, K, TS, DH, ih0, 2 * j - PL, alo, ahi);
  int n = hi - j;
  if (n >= 7) {
    /* 7, 8, 9: 4 + 3, 4 + 4, 5 + 4 */
    int first = n - n / 2;
    if (first == 5)
      fw_k3s2_5(xn, w, yr + j * K, W, K, TS, DH, ih0, 2 * j - PL, alo, ahi);
    else
      fw_k3s2_4(xn, w, yr + j * K, W, K, TS, DH, ih0, 2 * j - PL, alo, ahi);
    j += first;
    n -= first;
  }
  switch (n) {
  case 6:
    fw_k3s2_6(xn, w, yr + j * K, W, K, TS, DH, ih0, 2 * j - PL, alo, ahi);
    return hi;
  case 5:
    fw_k3s2_5(xn, w, yr + j * K, W, K, TS, DH, ih0, 2 * j - PL, alo, ahi);
    return hi;
  case 4:
    fw_k3s2_4(xn, w, yr + j * K, W, K, TS, DH, ih0, 2 * j - PL, alo, ahi);
    return hi;
  case 3:
    fw_k3s2_3(xn, w, yr + j * K, W, K, TS, DH, ih0, 2 * j - PL, alo, ahi);
    return hi;
  default:
    return j;
  }
}

/*
 * A whole output row of a narrow image (W = P ≤ 8 columns) of a 3-wide filter at unit stride and
 * dilation, padding 1 on the left and as much on the right (WO = W): the columns outside the image
 * are zeros left out, so the edge pixels run in the same registers as the others. Each input column
 * is loaded once per filter row and added to the (up to) three pixels it reaches: P + 3 loads for
 * 3P − 2 products, P accumulators + 3 weights + 1 input live. Before it, a 6-column row ran four
 * pixels as a block and the two edge pixels tap by tap (17 loads for 16 products). K a multiple
 * of 4; P a compile-time constant after inlining.
 */
INLINE void fw_row_narrow_k3(const f32 *xn, const f32 *w, f32 *yr, int K, int TS, int DH, int ih0, int alo, int ahi, const int P) {
  for (int k = 0; k + 4 <= K; k += 4) {
    v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
#pragma clang loop unroll(disable)
    for (int a = alo; a < ahi; a++) {
      const f32 *xr = xn + (ih0 + a * DH) * P * K + k;
      const f32 *wr = w + a * 3 * TS + k;
      const v128_t w0 = LD(wr), w1 = LD(wr + TS), w2 = LD(wr + 2 * TS);
      /* column c: pixel c − 1 by tap 2, pixel c by tap 1, pixel c + 1 by tap 0 */
      v128_t x = LD(xr);
      MADD(a0, x, w1);
      if (P > 1) MADD(a1, x, w0);
#define NARROW_COL(c, prev, cur, next) \
  if (P > c) {                          \
    x = LD(xr + c * K);                 \
    MADD(prev, x, w2);                  \
    MADD(cur, x, w1);                   \
    if (P > c + 1) MADD(next, x, w0);   \
  }
      NARROW_COL(1, a0, a1, a2)
      NARROW_COL(2, a1, a2, a3)
      NARROW_COL(3, a2, a3, a4)
      NARROW_COL(4, a3, a4, a5)
      NARROW_COL(5, a4, a5, a6)
      NARROW_COL(6, a5, a6, a7)
      NARROW_COL(7, a6, a7, a7)
#undef NARROW_COL
    }
    ST(yr + k, a0);
    if (P > 1) ST(yr + K + k, a1);
    if (P > 2) ST(yr + 2 * K + k, a2);
    if (P > 3) ST(yr + 3 * K + k, a3);
    if (P > 4) ST(yr + 4 * K + k, a4);
    if (P > 5) ST(yr + 5 * K + k, a5);
    if (P > 6) ST(yr + 6 * K + k, a6);
    if (P > 7) ST(yr + 7 * K + k, a7);
  }
}

#define FW_NARROW(P_)                                                                                                                                          \
  __attribute__((noinline)) static void fw_narrow_##P_(const f32 *xn, const f32 *w, f32 *yr, int K, int TS, int DH, int ih0, int alo, int ahi) {               \
    fw_row_narrow_k3(xn, w, yr, K, TS, DH, ih0, alo, ahi, P_);                                                                                               \
  }
FW_NARROW(2)
FW_NARROW(3)
FW_NARROW(4)
FW_NARROW(5)
FW_NARROW(6)
FW_NARROW(7)
FW_NARROW(8)

/* The narrow row kernel for W columns (2–8), or 0 when W is outside that range (the caller runs the general row). */
INLINE int fw_row_narrow(const f32 *xn, const f32 *w, f32 *yr, int W, int K, int TS, int DH, int ih0, int alo, int ahi) {
  switch (W) {
  case 2: fw_narrow_2(xn, w, yr, K, TS, DH, ih0, alo, ahi); return 1;
  case 3: fw_narrow_3(xn, w, yr, K, TS, DH, ih0, alo, ahi); return 1;
  case 4: fw_narrow_4(xn, w, yr, K, TS, DH, ih0, alo, ahi); return 1;
  case 5: fw_narrow_5(xn, w, yr, K, TS, DH, ih0, alo, ahi); return 1;
  case 6: fw_narrow_6(xn, w, yr, K, TS, DH, ih0, alo, ahi); return 1;
  case 7: fw_narrow_7(xn, w, yr, K, TS, DH, ih0, alo, ahi); return 1;
  case 8: fw_narrow_8(xn, w, yr, K, TS, DH, ih0, alo, ahi); return 1;
  default: return 0;
  }
}

/*
 * P ≤ 4 output pixels (n, i, j..j+P−1) of a 3-wide filter at unit stride and dilation, filter rows
 * [alo, ahi), where some of the input columns iw0 … iw0 + P + 1 they read lie outside the image (a
 * row's edges) or where fewer than four interior pixels are left: the columns outside are zeros, left
 * out once per call (a bit each in `in`), not per tap and channel as `fw_pixel` does. P + 2 loads for
 * 3P products per filter row, P accumulators, 3 weights. P a compile-time constant after inlining.
 */
INLINE void fw_cols_k3s1(const f32 *xn, const f32 *w, f32 *yp, int W, int K, int TS, int DH, int ih0, int iw0, int alo, int ahi, const int P) {
  unsigned in = 0;
  for (int c = 0; c < P + 2; c++)
    if (iw0 + c >= 0 && iw0 + c < W) in |= 1u << c;
  const v128_t zero = wasm_f32x4_splat(0.f);
  int k = 0;
  for (; k + 4 <= K; k += 4) {
    v128_t a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    for (int a = alo; a < ahi; a++) {
      const f32 *xr = xn + ((ih0 + a * DH) * W + iw0) * K + k;
      const f32 *wr = w + a * 3 * TS + k;
      const v128_t w0 = LD(wr), w1 = LD(wr + TS), w2 = LD(wr + 2 * TS);
      v128_t x[6];
      for (int c = 0; c < P + 2; c++) x[c] = in & (1u << c) ? LD(xr + c * K) : zero;
/* pixel p: input columns p, p + 1, p + 2 against the filter row's three taps */
#define COLS_TAPS(acc, p) (MADD(acc, x[p], w0), MADD(acc, x[(p) + 1], w1), MADD(acc, x[(p) + 2], w2))
      COLS_TAPS(a0, 0);
      if (P > 1) COLS_TAPS(a1, 1);
      if (P > 2) COLS_TAPS(a2, 2);
      if (P > 3) COLS_TAPS(a3, 3);
#undef COLS_TAPS
    }
    ST(yp + k, a0);
    if (P > 1) ST(yp + K + k, a1);
    if (P > 2) ST(yp + 2 * K + k, a2);
    if (P > 3) ST(yp + 3 * K + k, a3);
  }
  for (; k < K; k++)
    for (int p = 0; p < P; p++) {
      f32 acc = 0.f;
      for (int a = alo; a < ahi; a++)
        for (int b = 0; b < 3; b++)
          if (in & (1u << (p + b))) acc += xn[((ih0 + a * DH) * W + iw0 + p + b) * K + k] * w[(a * 3 + b) * TS + k];
      yp[p * K + k] = acc;
    }
}

FW_BLOCK_P(fw_cols, fw_cols_k3s1, 1)
FW_BLOCK_P(fw_cols, fw_cols_k3s1, 2)
FW_BLOCK_P(fw_cols, fw_cols_k3s1, 3)
FW_BLOCK_P(fw_cols, fw_cols_k3s1, 4)

/* Output pixels [j, j + n) of a row, 3 wide, unit stride and dilation, by `fw_cols_k3s1`, four at a time. */
INLINE void fw_span_k3s1(const f32 *xn, const f32 *w, f32 *yr, int W, int K, int TS, int DH, int PL, int ih0, int alo, int ahi, int j, int n) {
  for (; n >= 4; n -= 4, j += 4) fw_cols_4(xn, w, yr + j * K, W, K, TS, DH, ih0, j - PL, alo, ahi);
  switch (n) {
  case 3: fw_cols_3(xn, w, yr + j * K, W, K, TS, DH, ih0, j - PL, alo, ahi); break;
  case 2: fw_cols_2(xn, w, yr + j * K, W, K, TS, DH, ih0, j - PL, alo, ahi); break;
  case 1: fw_cols_1(xn, w, yr + j * K, W, K, TS, DH, ih0, j - PL, alo, ahi); break;
  default: break;
  }
}

/* Columns j with every tap inside the image: [lo, hi) (lo ≤ hi ≤ WO). */
INLINE void interior(int WO, int extent, int pad, int S, int size, int *lo, int *hi) {
  /* j·S − pad ≥ 0 and j·S − pad + extent − 1 < size */
  int l = pad > 0 ? (pad + S - 1) / S : 0;
  int top = size - extent + pad; /* j·S ≤ top */
  int h = top < 0 ? 0 : top / S + 1;
  if (h > WO) h = WO;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* One output row (n, i): edge pixels one by one, the interior four at a time. */
INLINE void fw_row(const f32 *xn, const f32 *w, f32 *yr, int W, int K, int KW, int TS, int SW, int DH, int DW, int PL, int WO, int ih0, int alo, int ahi,
                   int lo, int hi, const int KWC) {
  if (KWC == 3 && SW == 1 && DW == 1 && PL == 1 && WO == W && W <= 8 && (K & 3) == 0 && fw_row_narrow(xn, w, yr, W, K, TS, DH, ih0, alo, ahi)) return;
  int j = 0;
  if (KWC == 3 && SW == 1 && DW == 1) {
    /* the left edge, the interior four at a time, then what is left and the right edge, without per-tap checks */
    fw_span_k3s1(xn, w, yr, W, K, TS, DH, PL, ih0, alo, ahi, 0, lo);
    for (j = lo; j + 4 <= hi; j += 4) fw_block4(xn, w, yr + j * K, W, K, 3, TS, 1, DH, 1, ih0, j - PL, alo, ahi, 3);
    fw_span_k3s1(xn, w, yr, W, K, TS, DH, PL, ih0, alo, ahi, j, WO - j);
    return;
  }
  for (; j < lo; j++) fw_pixel(xn, w, yr + j * K, W, K, KW, TS, DH, DW, ih0, j * SW - PL, alo, ahi);
  if (KWC == 3 && SW == 2 && DW == 1 && (K & 3) == 0) j = fw_row_k3s2(xn, w, yr, W, K, TS, DH, PL, ih0, alo, ahi, j, hi);
  for (; j + 4 <= hi; j += 4) fw_block4(xn, w, yr + j * K, W, K, KW, TS, SW, DH, DW, ih0, j * SW - PL, alo, ahi, KWC);
  for (; j < WO; j++) fw_pixel(xn, w, yr + j * K, W, K, KW, TS, DH, DW, ih0, j * SW - PL, alo, ahi);
}

INLINE unsigned fw_all(const f32 *x, const f32 *w, int TS, f32 *y, int N, int H, int W, int K, int KH, int KW, int SH, int SW, int DH, int DW, int PT, int PL,
                       int HO, int WO, const int KWC) {
  int lo, hi;
  interior(WO, (KW - 1) * DW + 1, PL, SW, W, &lo, &hi);
  unsigned touched = 0;
  const int narrow = KWC == 3 && SW == 1 && DW == 1 && PL == 1 && WO == W && W <= 8 && (K & 3) == 0;
  for (int n = 0; n < N; n++) {
    const f32 *xn = x + n * H * W * K;
    for (int i = 0; i < HO; i++) {
      f32 *yr = y + ((n * HO + i) * WO) * K;
      int ih0 = i * SH - PT;
      /* at stride ≥ 2 and on narrow images: read one float per cache line of the x rows the next output row
         adds, so that they stream from memory in order while this row computes (cold inputs: 0.51–0.61× the
         time at MobileNetV2's stride-2 shapes, 0.62–0.96× on 3–7 columns; on wider images at unit stride it
         gained nothing; benchmark README) */
      if ((SH > 1 || narrow) && i + 1 < HO) {
        int r0 = ih0 + (KH - 1) * DH + 1, r1 = ih0 + SH + (KH - 1) * DH;
        if (r0 < 0) r0 = 0;
        if (r1 > H - 1) r1 = H - 1;
        if (r1 >= r0) touched ^= touch(xn + r0 * W * K, (r1 - r0 + 1) * W * K);
      }
      int alo, ahi;
      tap_rows(ih0, DH, KH, H, &alo, &ahi);
      fw_row(xn, w, yr, W, K, KW, TS, SW, DH, DW, PL, WO, ih0, alo, ahi, lo, hi, KWC);
    }
  }
  return touched;
}

/*
 * The forward with the filter width KWC fixed at compile time (0: any), one function per width (small
 * functions compile better in the engines). Tap (a, b)'s weights at w + (a·KW + b)·TS: TS = K for the
 * filter as it is, TS = −K with w at its last tap for the filter flipped in both axes (the input gradient).
 */
#define FW_ALL(NAME, KWC_)                                                                                                                                     \
  __attribute__((noinline)) static void NAME(const f32 *x, const f32 *w, int TS, f32 *y, int N, int H, int W, int K, int KH, int KW, int SH, int SW, int DH,  \
                                             int DW, int PT, int PL, int HO, int WO) {                                                                          \
    unsigned touched = fw_all(x, w, TS, y, N, H, W, K, KH, KW, SH, SW, DH, DW, PT, PL, HO, WO, KWC_);                                                     \
    /* keeps the touches: a store of y[0]'s own value, on a condition the compiler cannot decide */                                                        \
    if (touched == 0x9E3779B9u && N * HO * WO * K > 0) *(volatile f32 *)y = y[0];                                                                          \
  }
FW_ALL(fw_3, 3)
FW_ALL(fw_5, 5)
FW_ALL(fw_any, 0)

INLINE void fw_dispatch(const f32 *x, const f32 *w, int TS, f32 *y, int N, int H, int W, int K, int KH, int KW, int SH, int SW, int DH, int DW, int PT, int PL,
                        int HO, int WO) {
  if (KW == 3)
    fw_3(x, w, TS, y, N, H, W, K, KH, KW, SH, SW, DH, DW, PT, PL, HO, WO);
  else if (KW == 5)
    fw_5(x, w, TS, y, N, H, W, K, KH, KW, SH, SW, DH, DW, PT, PL, HO, WO);
  else
    fw_any(x, w, TS, y, N, H, W, K, KH, KW, SH, SW, DH, DW, PT, PL, HO, WO);
}

__attribute__((export_name("dw_forward"))) void dw_forward(const f32 *x, const f32 *w, f32 *y, int N, int H, int W, int K, int KH, int KW, int SH, int SW,
                                                          int DH, int DW, int PT, int PL, int HO, int WO) {
  fw_dispatch(x, w, K, y, N, H, W, K, KH, KW, SH, SW, DH, DW, PT, PL, HO, WO);
}

/* ---------------------------------------------------------------- input gradient */

/* dx at one input pixel (n, p, q): every tap checked for phase (divisible by the stride) and range (stride and dilation both above 1). */
INLINE void ig_pixel_checked(const f32 *dyn, const f32 *w, f32 *dxp, int K, int KH, int KW, int SH, int SW, int DH, int DW, int HO, int WO, int p, int q) {
  int k = 0;
  for (; k + 4 <= K; k += 4) {
    v128_t acc = wasm_f32x4_splat(0.f);
    for (int a = 0; a < KH; a++) {
      int ti = p - a * DH;
      if (ti % SH != 0) continue;
      int i = ti / SH;
      if (i < 0 || i >= HO) continue;
      for (int b = 0; b < KW; b++) {
        int tj = q - b * DW;
        if (tj % SW != 0) continue;
        int j = tj / SW;
        if (j < 0 || j >= WO) continue;
        MADD(acc, LD(dyn + (i * WO + j) * K + k), LD(w + (a * KW + b) * K + k));
      }
    }
    ST(dxp + k, acc);
  }
  for (; k < K; k++) {
    f32 acc = 0.f;
    for (int a = 0; a < KH; a++) {
      int ti = p - a * DH;
      if (ti % SH != 0) continue;
      int i = ti / SH;
      if (i < 0 || i >= HO) continue;
      for (int b = 0; b < KW; b++) {
        int tj = q - b * DW;
        if (tj % SW != 0) continue;
        int j = tj / SW;
        if (j < 0 || j >= WO) continue;
        acc += dyn[(i * WO + j) * K + k] * w[(a * KW + b) * K + k];
      }
    }
    dxp[k] = acc;
  }
}

/*
 * The taps along one axis that reach input position t (t = p + pad) form a walk: filter index f0,
 * f0 + fstep, … (< KF), at output index o0, o0 + odelta, … (checked against [0, O) by the caller).
 * Stride 1: every tap, o = t − f·D; dilation 1: f ≡ t mod S, o = (t − f)/S. Stride and dilation both
 * above 1 (tfjs's ops allow one or the other) have no such walk: the callers check every tap.
 * (Plain expressions, not out-parameters: those could leave locals in linear memory.)
 */
#define WALK_OK(S, D) ((S) == 1 || (D) == 1)
#define WALK_F0(t, S) ((S) == 1 ? 0 : (t) % (S))
#define WALK_FSTEP(S) (S)
#define WALK_O0(t, S) ((S) == 1 ? (t) : (t) / (S))
#define WALK_ODELTA(S, D) ((S) == 1 ? -(D) : -1)

/* dx at one input pixel by the row and column walks, each tap's dy row and column checked against [0, HO) × [0, WO). */
INLINE void ig_pixel(const f32 *dyn, const f32 *w, f32 *dxp, int K, int KH, int KW, int HO, int WO, int a0, int astep, int i0, int idelta, int b0, int bstep,
                     int jo0, int jdelta) {
  int k = 0;
  for (; k + 4 <= K; k += 4) {
    v128_t acc = wasm_f32x4_splat(0.f);
    int i = i0;
    for (int a = a0; a < KH; a += astep, i += idelta) {
      int j = jo0;
      for (int b = b0; b < KW; b += bstep, j += jdelta) {
        if (j < 0 || j >= WO) continue;
        MADD(acc, LD(dyn + (i * WO + j) * K + k), LD(w + (a * KW + b) * K + k));
      }
    }
    ST(dxp + k, acc);
  }
  for (; k < K; k++) {
    f32 acc = 0.f;
    int i = i0;
    for (int a = a0; a < KH; a += astep, i += idelta) {
      int j = jo0;
      for (int b = b0; b < KW; b += bstep, j += jdelta) {
        if (j < 0 || j >= WO) continue;
        acc += dyn[(i * WO + j) * K + k] * w[(a * KW + b) * K + k];
      }
    }
    dxp[k] = acc;
  }
}

/*
 * dx at four input pixels (n, p, q + t·SW), t < 4, of one column phase: the same taps apply to all
 * four, at dy columns jo + t (jo from the column walk), all inside [0, WO). Rows: the walk from a0
 * (dy row i0); columns: from b0 (dy column u + jo0 for the first pixel). KWC as in `fw_block4`.
 */
INLINE void ig_block4(const f32 *dyn, const f32 *w, f32 *dxp, int K, int KH, int KW, int SW, int HO, int WO, int a0, int astep, int i0, int idelta, int b0,
                      int bstep, int jo0, int jdelta, const int KWC) {
  const int ps = SW * K; /* dx offset between the four pixels */
  int k = 0;
  if (KWC == 3 && bstep == 1 && jdelta == -1) {
    /* 3 wide, unit stride and dilation: dy columns jo0 − 2 … jo0 + 3 shared by the four pixels' taps */
    for (; k + 4 <= K; k += 4) {
      v128_t s0 = wasm_f32x4_splat(0.f), s1 = s0, s2 = s0, s3 = s0;
      int i = i0;
      for (int a = a0; a < KH; a += astep, i += idelta) {
        const f32 *dr = dyn + (i * WO + jo0 - 2) * K + k;
        const f32 *wr = w + a * 3 * K + k;
        v128_t d0 = LD(dr), d1 = LD(dr + K), d2 = LD(dr + 2 * K), d3 = LD(dr + 3 * K), d4 = LD(dr + 4 * K), d5 = LD(dr + 5 * K);
        v128_t w0 = LD(wr), w1 = LD(wr + K), w2 = LD(wr + 2 * K);
        /* pixel t, tap b: dy column jo0 + t − b, i.e. d[2 + t − b] */
        MADD(s0, d2, w0);
        MADD(s1, d3, w0);
        MADD(s2, d4, w0);
        MADD(s3, d5, w0);
        MADD(s0, d1, w1);
        MADD(s1, d2, w1);
        MADD(s2, d3, w1);
        MADD(s3, d4, w1);
        MADD(s0, d0, w2);
        MADD(s1, d1, w2);
        MADD(s2, d2, w2);
        MADD(s3, d3, w2);
      }
      ST(dxp + k, s0);
      ST(dxp + ps + k, s1);
      ST(dxp + 2 * ps + k, s2);
      ST(dxp + 3 * ps + k, s3);
    }
  }
  for (; k + 4 <= K; k += 4) {
    v128_t s0 = wasm_f32x4_splat(0.f), s1 = s0, s2 = s0, s3 = s0;
    int i = i0;
    for (int a = a0; a < KH; a += astep, i += idelta) {
      const f32 *dr = dyn + i * WO * K + k;
      const f32 *wr = w + a * KW * K + k;
      int j = jo0;
      for (int b = b0; b < KW; b += bstep, j += jdelta) {
        const f32 *d = dr + j * K;
        v128_t wv = LD(wr + b * K);
        MADD(s0, LD(d), wv);
        MADD(s1, LD(d + K), wv);
        MADD(s2, LD(d + 2 * K), wv);
        MADD(s3, LD(d + 3 * K), wv);
      }
    }
    ST(dxp + k, s0);
    ST(dxp + ps + k, s1);
    ST(dxp + 2 * ps + k, s2);
    ST(dxp + 3 * ps + k, s3);
  }
  for (; k < K; k++) {
    f32 s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
    int i = i0;
    for (int a = a0; a < KH; a += astep, i += idelta) {
      int j = jo0;
      for (int b = b0; b < KW; b += bstep, j += jdelta) {
        const f32 *d = dyn + (i * WO + j) * K + k;
        f32 wv = w[(a * KW + b) * K + k];
        s0 += d[0] * wv;
        s1 += d[K] * wv;
        s2 += d[2 * K] * wv;
        s3 += d[3 * K] * wv;
      }
    }
    dxp[k] = s0;
    dxp[ps + k] = s1;
    dxp[2 * ps + k] = s2;
    dxp[3 * ps + k] = s3;
  }
}

/*
 * Two dx pixels of a 3-wide, stride-2, dilation-1 filter where a run (below) cannot take them: the even
 * one (from o; Q = q + PL even, J = Q/2) takes tap 0 at dy column J and tap 2 at J − 1, the odd one
 * (o + K, when `odd`) tap 1 at J, each column checked against [0, WO) once, not per tap and channel as
 * `ig_pixel` does.
 */
INLINE void ig_pair_s2k3(const f32 *dyn, const f32 *w, f32 *o, int K, int aend, int WO, int a0, int astep, int i0, int idelta, int J, int odd) {
  const int c0 = J < WO, c2 = J >= 1 && J - 1 < WO;
  int k = 0;
  for (; k + 4 <= K; k += 4) {
    v128_t e = wasm_f32x4_splat(0.f), e2 = e, od = e;
    int i = i0;
    for (int a = a0; a < aend; a += astep, i += idelta) {
      const f32 *dr = dyn + (i * WO + J) * K + k;
      const f32 *wr = w + a * 3 * K + k;
      if (c0) {
        const v128_t d = LD(dr);
        MADD(e, d, LD(wr));
        MADD(od, d, LD(wr + K));
      }
      if (c2) MADD(e2, LD(dr - K), LD(wr + 2 * K));
    }
    ST(o + k, wasm_f32x4_add(e, e2));
    if (odd) ST(o + K + k, od);
  }
  for (; k < K; k++) {
    f32 e = 0.f, e2 = 0.f, od = 0.f;
    int i = i0;
    for (int a = a0; a < aend; a += astep, i += idelta) {
      const f32 *dr = dyn + (i * WO + J) * K + k;
      const f32 *wr = w + a * 3 * K + k;
      if (c0) {
        e += dr[0] * wr[0];
        od += dr[0] * wr[K];
      }
      if (c2) e2 += dr[-K] * wr[2 * K];
    }
    o[k] = e + e2;
    if (odd) o[K + k] = od;
  }
}

/*
 * np whole pixel pairs of one dx row of a 3-wide, stride-2, dilation-1 filter, from o: in pair t the
 * even pixel takes tap 0 at dy column J0 + t and tap 2 at J0 + t − 1, the odd one tap 1 at J0 + t (all
 * inside [0, WO)); one or two filter rows (none, or three or more: `ig_pair_s2k3`, pair by pair), K a multiple
 * of 4. Channels outside, pixels inside: the six weights stay in registers along the run and each dy
 * column is loaded once. With the channels inside (eight pixels a step, before 2026-12-03) V8 kept ~16
 * pointers live, more than it holds in registers, and a third of the loop's instructions went to the stack.
 */
INLINE void ig_run_s2k3(const f32 *dyn, const f32 *w, f32 *o, int K, int WO, int a0, int astep, int aend, int i0, int idelta, int J0, int np) {
  if (aend - a0 == 2 * astep) {
    const f32 *dA = dyn + (i0 * WO + J0 - 1) * K, *dB = dyn + ((i0 + idelta) * WO + J0 - 1) * K;
    const f32 *wA = w + a0 * 3 * K, *wB = w + (a0 + astep) * 3 * K;
    for (int k = 0; k < K; k += 4) {
      const v128_t w0A = LD(wA + k), w1A = LD(wA + K + k), w2A = LD(wA + 2 * K + k);
      const v128_t w0B = LD(wB + k), w1B = LD(wB + K + k), w2B = LD(wB + 2 * K + k);
      const f32 *pa = dA + k, *pb = dB + k;
      f32 *po = o + k;
      v128_t pA = LD(pa), pB = LD(pb);
      for (int t = 0; t < np; t++) {
        pa += K;
        pb += K;
        const v128_t cA = LD(pa), cB = LD(pb);
        v128_t e = wasm_f32x4_add(wasm_f32x4_mul(cA, w0A), wasm_f32x4_mul(pA, w2A));
        e = wasm_f32x4_add(e, wasm_f32x4_add(wasm_f32x4_mul(cB, w0B), wasm_f32x4_mul(pB, w2B)));
        ST(po, e);
        ST(po + K, wasm_f32x4_add(wasm_f32x4_mul(cA, w1A), wasm_f32x4_mul(cB, w1B)));
        po += 2 * K;
        pA = cA;
        pB = cB;
      }
    }
  } else if (aend - a0 == astep) {
    const f32 *dA = dyn + (i0 * WO + J0 - 1) * K;
    const f32 *wA = w + a0 * 3 * K;
    for (int k = 0; k < K; k += 4) {
      const v128_t w0A = LD(wA + k), w1A = LD(wA + K + k), w2A = LD(wA + 2 * K + k);
      const f32 *pa = dA + k;
      f32 *po = o + k;
      v128_t pA = LD(pa);
      for (int t = 0; t < np; t++) {
        pa += K;
        const v128_t cA = LD(pa);
        ST(po, wasm_f32x4_add(wasm_f32x4_mul(cA, w0A), wasm_f32x4_mul(pA, w2A)));
        ST(po + K, wasm_f32x4_mul(cA, w1A));
        po += 2 * K;
        pA = cA;
      }
    }
  } else {
    /* no filter row inside dy (zeros) or three and more: pair by pair */
    for (int t = 0; t < np; t++) ig_pair_s2k3(dyn, w, o + 2 * t * K, K, aend, WO, a0, astep, i0, idelta, J0 + t, 1);
  }
}

/*
 * One dx row of a 3-wide, stride-2, dilation-1 filter, both column phases at once: pixel pairs q, q + 1
 * with Q = q + PL even and J = Q/2 (the even pixel's taps 0 and 2 at dy columns J and J − 1, the odd
 * one's tap 1 at J). The interior (whole pairs with J − 1 ≥ 0 and J < WO, K a multiple of 4) in one
 * run, the edges pair by pair. (Runs of four pairs, each a short stretch of ∂x written channel by
 * channel, were tried: 0.72–0.88× the time at [8, 48, 48, 48] from memory, but 1.0–1.14× at 96 channels
 * and 1.13–1.40× with warm caches.)
 */
INLINE void ig_row_s2k3(const f32 *dyn, const f32 *w, f32 *dxr, int K, int aend, int W, int HO, int WO, int PL, int a0, int astep, int i0, int idelta) {
  int q = 0;
  if (PL & 1) {
    /* an odd pixel first: tap 1 at dy column (PL − 1)/2 */
    ig_pixel(dyn, w, dxr, K, aend, 3, HO, WO, a0, astep, i0, idelta, 1, 2, PL >> 1, -1);
    q = 1;
  }
  while (q < W) {
    const int J = (q + PL) >> 1;
    int np = (W - q) >> 1;
    if (WO - J < np) np = WO - J;
    if (!(K & 3) && J >= 1 && np > 0) {
      ig_run_s2k3(dyn, w, dxr + q * K, K, WO, a0, astep, aend, i0, idelta, J, np);
      q += 2 * np;
    } else {
      ig_pair_s2k3(dyn, w, dxr + q * K, K, aend, WO, a0, astep, i0, idelta, J, q + 1 < W);
      q += 2;
    }
  }
}

/* One phase r of one dx row: columns q = r + u·SW, u < U; interior u in [ulo, uhi) four at a time. */
INLINE void ig_phase(const f32 *dyn, const f32 *w, f32 *dxr, int K, int KH, int aend, int KW, int SH, int SW, int DH, int DW, int HO, int WO, int PL, int pp, int r, int U,
                     int ulo, int uhi, int rows, int a0, int astep, int i0, int idelta, int cols, int b0, int bstep, int jo0, int jdelta, const int KWC) {
  int u = 0;
  if (!rows || !cols) {
    for (; u < U; u++) ig_pixel_checked(dyn, w, dxr + (r + u * SW) * K, K, KH, KW, SH, SW, DH, DW, HO, WO, pp, r + u * SW + PL);
    return;
  }
  for (; u < ulo; u++) ig_pixel(dyn, w, dxr + (r + u * SW) * K, K, aend, KW, HO, WO, a0, astep, i0, idelta, b0, bstep, jo0 + u, jdelta);
  for (; u + 4 <= uhi; u += 4) ig_block4(dyn, w, dxr + (r + u * SW) * K, K, aend, KW, SW, HO, WO, a0, astep, i0, idelta, b0, bstep, jo0 + u, jdelta, KWC);
  for (; u < U; u++) ig_pixel(dyn, w, dxr + (r + u * SW) * K, K, aend, KW, HO, WO, a0, astep, i0, idelta, b0, bstep, jo0 + u, jdelta);
}

INLINE void ig_all(const f32 *dy, const f32 *w, f32 *dx, int N, int H, int W, int K, int KH, int KW, int SH, int SW, int DH, int DW, int PT, int PL, int HO,
                   int WO, const int KWC) {
  for (int n = 0; n < N; n++) {
    const f32 *dyn = dy + n * HO * WO * K;
    f32 *dxn = dx + n * H * W * K;
    for (int p = 0; p < H; p++) {
      f32 *dxr = dxn + p * W * K;
      /* p + PT ≥ 0, so the walks' remainders and quotients are the non-negative ones */
      int rows = WALK_OK(SH, DH), a0 = WALK_F0(p + PT, SH), astep = WALK_FSTEP(SH), i0 = WALK_O0(p + PT, SH), idelta = WALK_ODELTA(SH, DH);
      int aend = a0;
      if (rows) {
        /* trim the row walk to the dy rows inside [0, HO): filter rows a0, a0 + astep, … < aend */
        int dd = -idelta;
        int skip = i0 >= HO ? (i0 - HO) / dd + 1 : 0;
        a0 += skip * astep;
        i0 -= skip * dd;
        int count = i0 < 0 ? 0 : i0 / dd + 1;
        int fit = a0 >= KH ? 0 : (KH - a0 + astep - 1) / astep;
        aend = a0 + (count < fit ? count : fit) * astep;
      }
      if (KWC == 3 && SW == 2 && DW == 1 && rows) {
        ig_row_s2k3(dyn, w, dxr, K, aend, W, HO, WO, PL, a0, astep, i0, idelta);
        continue;
      }
      for (int r = 0; r < SW && r < W; r++) {
        /* columns q = r + u·SW: the taps b0, b0 + bstep, … at dy columns u + jo0, u + jo0 + jdelta, … */
        int cols = WALK_OK(SW, DW), b0 = WALK_F0(r + PL, SW), bstep = WALK_FSTEP(SW), jo0 = WALK_O0(r + PL, SW), jdelta = WALK_ODELTA(SW, DW);
        int U = (W - r + SW - 1) / SW;
        int ulo = 0, uhi = 0;
        if (cols && b0 < KW) {
          /* all taps' columns inside [0, WO): u + jo0 + jdelta·(taps − 1) ≥ 0 and u + jo0 < WO */
          int last = jo0 + jdelta * ((KW - 1 - b0) / bstep);
          ulo = -last > 0 ? -last : 0;
          uhi = WO - jo0 < U ? WO - jo0 : U;
          if (uhi < 0) uhi = 0;
          if (ulo > uhi) ulo = uhi;
        }
        ig_phase(dyn, w, dxr, K, KH, aend, KW, SH, SW, DH, DW, HO, WO, PL, p + PT, r, U, ulo, uhi, rows, a0, astep, i0, idelta, cols, b0, bstep, jo0, jdelta, KWC);
      }
    }
  }
}

/* The input gradient with the filter width KWC fixed at compile time (0: any), one function per width (small functions compile better in the engines). */
#define IG_ALL(NAME, KWC_)                                                                                                                                     \
  __attribute__((noinline)) static void NAME(const f32 *dy, const f32 *w, f32 *dx, int N, int H, int W, int K, int KH, int KW, int SH, int SW, int DH, int DW, \
                                             int PT, int PL, int HO, int WO) {                                                                                  \
    ig_all(dy, w, dx, N, H, W, K, KH, KW, SH, SW, DH, DW, PT, PL, HO, WO, KWC_);                                                                            \
  }
IG_ALL(ig_3, 3)
IG_ALL(ig_5, 5)
IG_ALL(ig_any, 0)

/*
 * At unit stride the input gradient is a forward convolution of dy with the filter flipped in both
 * axes: dx[n,p,q,k] = Σ_{a',b'} dy[n, p − PT' + a'·DH, q − PL' + b'·DW, k] · w[KH−1−a', KW−1−b', k] with
 * PT' = (KH−1)·DH − PT, PL' = (KW−1)·DW − PL (a' = KH−1−a), over dy's HO×WO as the input and dx's H×W
 * as the output: the forward kernels serve (taps read backwards, no flipped copy).
 */
__attribute__((export_name("dw_input_grad"))) void dw_input_grad(const f32 *dy, const f32 *w, f32 *dx, int N, int H, int W, int K, int KH, int KW, int SH,
                                                                int SW, int DH, int DW, int PT, int PL, int HO, int WO) {
  if (SH == 1 && SW == 1) {
    fw_dispatch(dy, w + (KH * KW - 1) * K, -K, dx, N, HO, WO, K, KH, KW, 1, 1, DH, DW, (KH - 1) * DH - PT, (KW - 1) * DW - PL, H, W);
    return;
  }
  if (KW == 3)
    ig_3(dy, w, dx, N, H, W, K, KH, KW, SH, SW, DH, DW, PT, PL, HO, WO);
  else if (KW == 5)
    ig_5(dy, w, dx, N, H, W, K, KH, KW, SH, SW, DH, DW, PT, PL, HO, WO);
  else
    ig_any(dy, w, dx, N, H, W, K, KH, KW, SH, SW, DH, DW, PT, PL, HO, WO);
}

/* ---------------------------------------------------------------- filter gradient */

/* the three taps' products of one 8-channel dy column (at dp) with the x columns u0–u2 (its channels 0–3) and v0–v2
   (4–7), into p0–p2 and q0–q2 (`fg_taps`'s carried-column loops) */
#define TAPS3X8(dp)                                                                                                                                            \
  do {                                                                                                                                                         \
    v128_t d_ = LD(dp);                                                                                                                                        \
    MADD(p0, u0, d_);                                                                                                                                          \
    MADD(p1, u1, d_);                                                                                                                                          \
    MADD(p2, u2, d_);                                                                                                                                          \
    d_ = LD((dp) + 4);                                                                                                                                         \
    MADD(q0, v0, d_);                                                                                                                                          \
    MADD(q1, v1, d_);                                                                                                                                          \
    MADD(q2, v2, d_);                                                                                                                                          \
  } while (0)

/*
 * Adds to dw[a, b..b+T−1, k..] the products of one row of dy (n, i) with the x row ih, for T ≤ 4 taps
 * of filter row a: T accumulator vectors per 4 channels over the row's columns (one dy load per T
 * x loads), added to dw once per row. Columns [lo, hi) have all T taps inside the image; the others
 * are checked tap by tap. T is a compile-time constant after inlining.
 */
INLINE void fg_taps(const f32 *xr, const f32 *dyr, f32 *dw, int W, int K, int KW, int SW, int DW, int PL, int WO, int a, int b, int lo, int hi, const int T) {
  const int ts = DW * K; /* x offset between consecutive taps */
  int k = 0;
  /* three taps: eight channels at a time (two vectors), 1.1–1.5× faster than four (fewer loop and edge-check instructions per product) */
  if (T == 3)
    for (; k + 8 <= K; k += 8) {
      f32 *dwp = dw + (a * KW + b) * K + k;
      v128_t p0 = LD(dwp), p1 = LD(dwp + K), p2 = LD(dwp + 2 * K);
      v128_t q0 = LD(dwp + 4), q1 = LD(dwp + K + 4), q2 = LD(dwp + 2 * K + 4);
      {
        const f32 *xrr = xr + k, *dyrr = dyr + k;
        for (int j = 0; j < WO; j++) {
          if (j == lo && lo < hi) {
            if (DW == 1 && SW == 1) {
              /* unit stride: pixel j + 1's taps 0 and 1 are pixel j's taps 1 and 2, carried in registers (one new x column a pixel) */
              const f32 *xp = xrr + (j - PL + b) * K;
              v128_t u0 = LD(xp), v0 = LD(xp + 4), u1 = LD(xp + K), v1 = LD(xp + K + 4);
              for (; j < hi; j++, xp += K) {
                const v128_t u2 = LD(xp + 2 * K), v2 = LD(xp + 2 * K + 4);
                TAPS3X8(dyrr + j * K);
                u0 = u1;
                v0 = v1;
                u1 = u2;
                v1 = v2;
              }
            } else if (DW == 1 && SW == 2) {
              /* stride 2: pixel j + 1's tap 0 is pixel j's tap 2, carried in registers (two new x columns a pixel) */
              const f32 *xp = xrr + (2 * j - PL + b) * K;
              v128_t u0 = LD(xp), v0 = LD(xp + 4);
              for (; j < hi; j++, xp += 2 * K) {
                const v128_t u1 = LD(xp + K), v1 = LD(xp + K + 4), u2 = LD(xp + 2 * K), v2 = LD(xp + 2 * K + 4);
                TAPS3X8(dyrr + j * K);
                u0 = u2;
                v0 = v2;
              }
            }
            for (; j < hi; j++) {
              const f32 *xp = xrr + (j * SW - PL + b * DW) * K;
              v128_t d = LD(dyrr + j * K);
              MADD(p0, LD(xp), d);
              MADD(p1, LD(xp + ts), d);
              MADD(p2, LD(xp + 2 * ts), d);
              d = LD(dyrr + j * K + 4);
              MADD(q0, LD(xp + 4), d);
              MADD(q1, LD(xp + ts + 4), d);
              MADD(q2, LD(xp + 2 * ts + 4), d);
            }
            if (j >= WO) break;
          }
          int iw = j * SW - PL + b * DW;
          const f32 *xp = xrr + iw * K;
          v128_t d = LD(dyrr + j * K), e = LD(dyrr + j * K + 4);
          if (iw >= 0 && iw < W) {
            MADD(p0, LD(xp), d);
            MADD(q0, LD(xp + 4), e);
          }
          if (iw + DW >= 0 && iw + DW < W) {
            MADD(p1, LD(xp + ts), d);
            MADD(q1, LD(xp + ts + 4), e);
          }
          if (iw + 2 * DW >= 0 && iw + 2 * DW < W) {
            MADD(p2, LD(xp + 2 * ts), d);
            MADD(q2, LD(xp + 2 * ts + 4), e);
          }
        }
      }
      ST(dwp, p0);
      ST(dwp + K, p1);
      ST(dwp + 2 * K, p2);
      ST(dwp + 4, q0);
      ST(dwp + K + 4, q1);
      ST(dwp + 2 * K + 4, q2);
    }
  for (; k + 4 <= K; k += 4) {
    f32 *dwp = dw + (a * KW + b) * K + k;
    v128_t a0 = LD(dwp), a1 = wasm_f32x4_splat(0.f), a2 = a1, a3 = a1;
    if (T > 1) a1 = LD(dwp + K);
    if (T > 2) a2 = LD(dwp + 2 * K);
    if (T > 3) a3 = LD(dwp + 3 * K);
    for (int j = 0; j < WO; j++) {
      if (j == lo && lo < hi) {
        for (; j < hi; j++) {
          v128_t d = LD(dyr + j * K + k);
          const f32 *xp = xr + (j * SW - PL + b * DW) * K + k;
          MADD(a0, LD(xp), d);
          if (T > 1) MADD(a1, LD(xp + ts), d);
          if (T > 2) MADD(a2, LD(xp + 2 * ts), d);
          if (T > 3) MADD(a3, LD(xp + 3 * ts), d);
        }
        if (j >= WO) break;
      }
      v128_t d = LD(dyr + j * K + k);
      int iw = j * SW - PL + b * DW;
      const f32 *xp = xr + iw * K + k;
      if (iw >= 0 && iw < W) MADD(a0, LD(xp), d);
      if (T > 1 && iw + DW >= 0 && iw + DW < W) MADD(a1, LD(xp + ts), d);
      if (T > 2 && iw + 2 * DW >= 0 && iw + 2 * DW < W) MADD(a2, LD(xp + 2 * ts), d);
      if (T > 3 && iw + 3 * DW >= 0 && iw + 3 * DW < W) MADD(a3, LD(xp + 3 * ts), d);
    }
    ST(dwp, a0);
    if (T > 1) ST(dwp + K, a1);
    if (T > 2) ST(dwp + 2 * K, a2);
    if (T > 3) ST(dwp + 3 * K, a3);
  }
  for (; k < K; k++) {
    for (int t = 0; t < T; t++) {
      f32 acc = dw[(a * KW + b + t) * K + k];
      for (int j = 0; j < WO; j++) {
        int iw = j * SW - PL + (b + t) * DW;
        if (iw >= 0 && iw < W) acc += xr[iw * K + k] * dyr[j * K + k];
      }
      dw[(a * KW + b + t) * K + k] = acc;
    }
  }
}

/*
 * The filter gradient of a narrow image (W = P ≤ 8 columns, 3 wide, unit stride and dilation, padding 1
 * left and right: WO = W), image by image: for each filter row a and 8 channels, the three taps'
 * accumulators stay in registers over all of the image's dy rows (the general path loads and stores
 * them for every row), and each row runs unrolled with its edge pixels' missing taps left out at
 * compile time: one x load and one dy load per three products, the x columns carried in registers as
 * in `fg_taps`. The sums are added in the general path's order (n, i, j for each tap), so dw is the
 * same to the bit. Before each image, one word per cache line of the next one's x and dy is read
 * (as in the general path, a row ahead). K a multiple of 4; P a compile-time constant after inlining.
 */
INLINE unsigned fg_narrow_k3(const f32 *x, const f32 *dy, f32 *dw, int N, int H, int K, int KH, int DH, int PT, int HO, const int P) {
  unsigned touched = 0;
  for (int n = 0; n < N; n++) {
    if (n + 1 < N) {
      touched ^= touch(x + (n + 1) * H * P * K, H * P * K);
      touched ^= touch(dy + (n + 1) * HO * P * K, HO * P * K);
    }
    for (int a = 0; a < KH; a++) {
      /* dy rows i whose x row i − PT + a·DH lies inside [0, H) */
      int ilo = PT - a * DH, ihi = H + PT - a * DH;
      if (ilo < 0) ilo = 0;
      if (ihi > HO) ihi = HO;
      if (ilo >= ihi) continue;
      int k = 0;
      for (; k + 8 <= K; k += 8) {
        f32 *dwp = dw + a * 3 * K + k;
        v128_t p0 = LD(dwp), p1 = LD(dwp + K), p2 = LD(dwp + 2 * K);
        v128_t q0 = LD(dwp + 4), q1 = LD(dwp + K + 4), q2 = LD(dwp + 2 * K + 4);
#pragma clang loop unroll(disable)
        for (int i = ilo; i < ihi; i++) {
          const f32 *xr = x + ((n * H + i - PT + a * DH) * P) * K + k, *dr = dy + ((n * HO + i) * P) * K + k;
          v128_t u0 = wasm_f32x4_splat(0.f), v0 = u0, u1 = LD(xr), v1 = LD(xr + 4), u2 = u0, v2 = u0;
          /* pixel j: tap 0 at column j − 1 (none at j = 0), tap 1 at j, tap 2 at j + 1 (none at j = P − 1) */
#define NARROW_FG(j)                                  \
  if (P > j) {                                        \
    const v128_t d = LD(dr + j * K), e = LD(dr + j * K + 4); \
    if (j > 0) {                                      \
      MADD(p0, u0, d);                                \
      MADD(q0, v0, e);                                \
    }                                                 \
    MADD(p1, u1, d);                                  \
    MADD(q1, v1, e);                                  \
    if (P > j + 1) {                                  \
      u2 = LD(xr + (j + 1) * K);                      \
      v2 = LD(xr + (j + 1) * K + 4);                  \
      MADD(p2, u2, d);                                \
      MADD(q2, v2, e);                                \
    }                                                 \
    u0 = u1;                                          \
    v0 = v1;                                          \
    u1 = u2;                                          \
    v1 = v2;                                          \
  }
          NARROW_FG(0)
          NARROW_FG(1)
          NARROW_FG(2)
          NARROW_FG(3)
          NARROW_FG(4)
          NARROW_FG(5)
          NARROW_FG(6)
          NARROW_FG(7)
#undef NARROW_FG
        }
        ST(dwp, p0);
        ST(dwp + K, p1);
        ST(dwp + 2 * K, p2);
        ST(dwp + 4, q0);
        ST(dwp + K + 4, q1);
        ST(dwp + 2 * K + 4, q2);
      }
      for (; k + 4 <= K; k += 4) {
        f32 *dwp = dw + a * 3 * K + k;
        v128_t p0 = LD(dwp), p1 = LD(dwp + K), p2 = LD(dwp + 2 * K);
#pragma clang loop unroll(disable)
        for (int i = ilo; i < ihi; i++) {
          const f32 *xr = x + ((n * H + i - PT + a * DH) * P) * K + k, *dr = dy + ((n * HO + i) * P) * K + k;
          for (int j = 0; j < P; j++) {
            const v128_t d = LD(dr + j * K);
            if (j > 0) MADD(p0, LD(xr + (j - 1) * K), d);
            MADD(p1, LD(xr + j * K), d);
            if (j + 1 < P) MADD(p2, LD(xr + (j + 1) * K), d);
          }
        }
        ST(dwp, p0);
        ST(dwp + K, p1);
        ST(dwp + 2 * K, p2);
      }
    }
  }
  return touched;
}

#define FG_NARROW(P_)                                                                                                                                          \
  __attribute__((noinline)) static unsigned fg_narrow_##P_(const f32 *x, const f32 *dy, f32 *dw, int N, int H, int K, int KH, int DH, int PT, int HO) {      \
    return fg_narrow_k3(x, dy, dw, N, H, K, KH, DH, PT, HO, P_);                                                                                             \
  }
FG_NARROW(2)
FG_NARROW(3)
FG_NARROW(4)
FG_NARROW(5)
FG_NARROW(6)
FG_NARROW(7)
FG_NARROW(8)

__attribute__((export_name("dw_filter_grad"))) void dw_filter_grad(const f32 *x, const f32 *dy, f32 *dw, int N, int H, int W, int K, int KH, int KW, int SH,
                                                                  int SW, int DH, int DW, int PT, int PL, int HO, int WO) {
  int total = KH * KW * K;
  for (int e = 0; e < total; e++) dw[e] = 0.f;
  unsigned touched = 0;
  if (KW == 3 && SW == 1 && DW == 1 && PL == 1 && WO == W && W >= 2 && W <= 8 && (K & 3) == 0) {
    switch (W) {
    case 2: touched = fg_narrow_2(x, dy, dw, N, H, K, KH, DH, PT, HO); break;
    case 3: touched = fg_narrow_3(x, dy, dw, N, H, K, KH, DH, PT, HO); break;
    case 4: touched = fg_narrow_4(x, dy, dw, N, H, K, KH, DH, PT, HO); break;
    case 5: touched = fg_narrow_5(x, dy, dw, N, H, K, KH, DH, PT, HO); break;
    case 6: touched = fg_narrow_6(x, dy, dw, N, H, K, KH, DH, PT, HO); break;
    case 7: touched = fg_narrow_7(x, dy, dw, N, H, K, KH, DH, PT, HO); break;
    default: touched = fg_narrow_8(x, dy, dw, N, H, K, KH, DH, PT, HO); break;
    }
    if (touched == 0x9E3779B9u) *(volatile f32 *)dw = dw[0];
    return;
  }
  for (int n = 0; n < N; n++) {
    for (int i = 0; i < HO; i++) {
      const f32 *dyr = dy + (n * HO + i) * WO * K;
      /* read one float per cache line of what the next dy row needs and this one did not: that dy row
         and its new x rows, so that they stream from memory in order while this row computes */
      if (i + 1 < HO) {
        touched ^= touch(dyr + WO * K, WO * K);
        int r0 = i * SH - PT + (KH - 1) * DH + 1, r1 = (i + 1) * SH - PT + (KH - 1) * DH;
        if (r0 < 0) r0 = 0;
        if (r1 > H - 1) r1 = H - 1;
        if (r1 >= r0) touched ^= touch(x + (n * H + r0) * W * K, (r1 - r0 + 1) * W * K);
      }
      for (int a = 0; a < KH; a++) {
        int ih = i * SH - PT + a * DH;
        if (ih < 0 || ih >= H) continue;
        const f32 *xr = x + (n * H + ih) * W * K;
        for (int b = 0; b < KW; b += 4) {
          int T = KW - b < 4 ? KW - b : 4;
          int lo, hi;
          /* columns where taps b .. b+T−1 are all inside: j·SW − PL + b·DW ≥ 0, … + (T−1)·DW < W */
          interior(WO, (T - 1) * DW + 1, PL - b * DW, SW, W, &lo, &hi);
          switch (T) {
          case 1:
            fg_taps(xr, dyr, dw, W, K, KW, SW, DW, PL, WO, a, b, lo, hi, 1);
            break;
          case 2:
            fg_taps(xr, dyr, dw, W, K, KW, SW, DW, PL, WO, a, b, lo, hi, 2);
            break;
          case 3:
            fg_taps(xr, dyr, dw, W, K, KW, SW, DW, PL, WO, a, b, lo, hi, 3);
            break;
          default:
            fg_taps(xr, dyr, dw, W, K, KW, SW, DW, PL, WO, a, b, lo, hi, 4);
            break;
          }
        }
      }
    }
  }
  /* keeps the touches: a store of dw[0]'s own value, on a condition the compiler cannot decide */
  if (touched == 0x9E3779B9u) *(volatile f32 *)dw = dw[0];
}

/* ---------------------------------------------------------------- per-example statistics */

/* acc[e] (+)= g[e]² (square ≠ 0) or |g[e]| over `len` floats; first ≠ 0 overwrites acc. */
__attribute__((export_name("dw_accumulate"))) void dw_accumulate(const f32 *g, f32 *acc, int len, int square, int first) {
  int e = 0;
  const v128_t zero = wasm_f32x4_splat(0.f);
  for (; e + 4 <= len; e += 4) {
    v128_t v = LD(g + e);
    v = square ? wasm_f32x4_mul(v, v) : wasm_f32x4_abs(v);
    ST(acc + e, wasm_f32x4_add(first ? zero : LD(acc + e), v));
  }
  for (; e < len; e++) {
    f32 v = g[e];
    v = square ? v * v : (v < 0.f ? -v : v);
    acc[e] = first ? v : acc[e] + v;
  }
}

/*
 * Σ_n stat(∂W_n) over N examples into out (written, not added), stat = g² (`square`) or |g|: per example
 * dw_filter_grad into scratch (KH·KW·K floats), then dw_accumulate. The loop of `depthwisePerExampleSum`
 * (depth multiplier 1) in one call, so that a range of examples is one slice for the kernel threads.
 */
__attribute__((export_name("dw_example_sums"))) void dw_example_sums(const f32 *x, const f32 *dy, f32 *out, f32 *scratch, int N, int H, int W, int K, int KH,
                                                                    int KW, int SH, int SW, int DH, int DW, int PT, int PL, int HO, int WO, int square) {
  const int len = KH * KW * K;
  for (int n = 0; n < N; n++) {
    dw_filter_grad(x + n * H * W * K, dy + n * HO * WO * K, scratch, 1, H, W, K, KH, KW, SH, SW, DH, DW, PT, PL, HO, WO);
    dw_accumulate(scratch, out, len, square, n == 0);
  }
}

/* acc += g over len floats (the kernel threads' partial sums added: `kernel-threads.ts`). */
__attribute__((export_name("add_into"))) void add_into(const f32 *g, f32 *acc, int len) {
  int e = 0;
  for (; e + 4 <= len; e += 4) ST(acc + e, wasm_f32x4_add(LD(acc + e), LD(g + e)));
  for (; e < len; e++) acc[e] += g[e];
}

/* ---------------------------------------------------------------- depth multiplier */

/* xe[p, c·M + m] = x[p, c] for P pixels. */
__attribute__((export_name("dw_expand"))) void dw_expand(const f32 *x, f32 *xe, int P, int C, int M) {
  for (int p = 0; p < P; p++)
    for (int c = 0; c < C; c++) {
      f32 v = x[p * C + c];
      for (int m = 0; m < M; m++) xe[(p * C + c) * M + m] = v;
    }
}

/* dx[p, c] = Σ_m dxe[p, c·M + m] for P pixels. */
__attribute__((export_name("dw_reduce"))) void dw_reduce(const f32 *dxe, f32 *dx, int P, int C, int M) {
  for (int p = 0; p < P; p++)
    for (int c = 0; c < C; c++) {
      f32 s = 0.f;
      for (int m = 0; m < M; m++) s += dxe[(p * C + c) * M + m];
      dx[p * C + c] = s;
    }
}
