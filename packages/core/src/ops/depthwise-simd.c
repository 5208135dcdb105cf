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
 * output pixels (forward, input gradient: one filter load per four pixel loads) or up to four taps
 * (filter gradient: one dy load per four x loads), so a multiply-add costs ~1.25 loads.
 */
#include <wasm_simd128.h>

typedef float f32;
#define INLINE static inline __attribute__((always_inline))
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)
#define MADD(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))

/* ---------------------------------------------------------------- forward */

/* One output pixel (n, i, j), every tap bounds-checked (the image's edges). */
INLINE void fw_pixel(const f32 *xn, const f32 *w, f32 *yp, int H, int W, int K, int KH, int KW, int DH, int DW, int ih0, int iw0) {
  int k = 0;
  for (; k + 4 <= K; k += 4) {
    v128_t acc = wasm_f32x4_splat(0.f);
    for (int a = 0; a < KH; a++) {
      int ih = ih0 + a * DH;
      if (ih < 0 || ih >= H) continue;
      for (int b = 0; b < KW; b++) {
        int iw = iw0 + b * DW;
        if (iw < 0 || iw >= W) continue;
        MADD(acc, LD(xn + (ih * W + iw) * K + k), LD(w + (a * KW + b) * K + k));
      }
    }
    ST(yp + k, acc);
  }
  for (; k < K; k++) {
    f32 acc = 0.f;
    for (int a = 0; a < KH; a++) {
      int ih = ih0 + a * DH;
      if (ih < 0 || ih >= H) continue;
      for (int b = 0; b < KW; b++) {
        int iw = iw0 + b * DW;
        if (iw < 0 || iw >= W) continue;
        acc += xn[(ih * W + iw) * K + k] * w[(a * KW + b) * K + k];
      }
    }
    yp[k] = acc;
  }
}

/* Four output pixels (n, i, j..j+3) whose taps all lie inside the image's columns. */
INLINE void fw_block4(const f32 *xn, const f32 *w, f32 *yp, int H, int W, int K, int KH, int KW, int SW, int DH, int DW, int ih0, int iw0) {
  const int ps = SW * K; /* x offset between the four pixels */
  int k = 0;
  for (; k + 4 <= K; k += 4) {
    v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, a2 = a0, a3 = a0;
    for (int a = 0; a < KH; a++) {
      int ih = ih0 + a * DH;
      if (ih < 0 || ih >= H) continue;
      const f32 *xr = xn + (ih * W + iw0) * K + k;
      const f32 *wr = w + a * KW * K + k;
      for (int b = 0; b < KW; b++) {
        v128_t wv = LD(wr + b * K);
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
    for (int a = 0; a < KH; a++) {
      int ih = ih0 + a * DH;
      if (ih < 0 || ih >= H) continue;
      for (int b = 0; b < KW; b++) {
        f32 wv = w[(a * KW + b) * K + k];
        const f32 *xp = xn + (ih * W + iw0 + b * DW) * K + k;
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

__attribute__((export_name("dw_forward"))) void dw_forward(const f32 *x, const f32 *w, f32 *y, int N, int H, int W, int K, int KH, int KW, int SH, int SW,
                                                          int DH, int DW, int PT, int PL, int HO, int WO) {
  int lo, hi;
  interior(WO, (KW - 1) * DW + 1, PL, SW, W, &lo, &hi);
  for (int n = 0; n < N; n++) {
    const f32 *xn = x + n * H * W * K;
    for (int i = 0; i < HO; i++) {
      f32 *yr = y + ((n * HO + i) * WO) * K;
      int ih0 = i * SH - PT;
      int j = 0;
      for (; j < lo; j++) fw_pixel(xn, w, yr + j * K, H, W, K, KH, KW, DH, DW, ih0, j * SW - PL);
      for (; j + 4 <= hi; j += 4) fw_block4(xn, w, yr + j * K, H, W, K, KH, KW, SW, DH, DW, ih0, j * SW - PL);
      for (; j < WO; j++) fw_pixel(xn, w, yr + j * K, H, W, K, KH, KW, DH, DW, ih0, j * SW - PL);
    }
  }
}

/* ---------------------------------------------------------------- input gradient */

/* dx at one input pixel (n, p, q): every tap checked for phase (divisible by the stride) and range. */
INLINE void ig_pixel(const f32 *dyn, const f32 *w, f32 *dxp, int K, int KH, int KW, int SH, int SW, int DH, int DW, int HO, int WO, int p, int q) {
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
 * dx at four input pixels (n, p, q + t·SW), t < 4, of one column phase (q + PL ≡ r mod SW): the
 * same taps b apply to all four, at dy columns j0_b + t, all inside [0, WO). (pp, qq: p + PT, q + PL.)
 */
INLINE void ig_block4(const f32 *dyn, const f32 *w, f32 *dxp, int K, int KH, int KW, int SH, int SW, int DH, int DW, int HO, int WO, int pp, int qq) {
  const int ps = SW * K; /* dx offset between the four pixels */
  int k = 0;
  for (; k + 4 <= K; k += 4) {
    v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, a2 = a0, a3 = a0;
    for (int a = 0; a < KH; a++) {
      int ti = pp - a * DH;
      if (ti % SH != 0) continue;
      int i = ti / SH;
      if (i < 0 || i >= HO) continue;
      const f32 *dr = dyn + i * WO * K + k;
      for (int b = 0; b < KW; b++) {
        int tj = qq - b * DW;
        if (tj % SW != 0) continue;
        const f32 *d = dr + (tj / SW) * K;
        v128_t wv = LD(w + (a * KW + b) * K + k);
        MADD(a0, LD(d), wv);
        MADD(a1, LD(d + K), wv);
        MADD(a2, LD(d + 2 * K), wv);
        MADD(a3, LD(d + 3 * K), wv);
      }
    }
    ST(dxp + k, a0);
    ST(dxp + ps + k, a1);
    ST(dxp + 2 * ps + k, a2);
    ST(dxp + 3 * ps + k, a3);
  }
  for (; k < K; k++) {
    f32 a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
    for (int a = 0; a < KH; a++) {
      int ti = pp - a * DH;
      if (ti % SH != 0) continue;
      int i = ti / SH;
      if (i < 0 || i >= HO) continue;
      for (int b = 0; b < KW; b++) {
        int tj = qq - b * DW;
        if (tj % SW != 0) continue;
        const f32 *d = dyn + (i * WO + tj / SW) * K + k;
        f32 wv = w[(a * KW + b) * K + k];
        a0 += d[0] * wv;
        a1 += d[K] * wv;
        a2 += d[2 * K] * wv;
        a3 += d[3 * K] * wv;
      }
    }
    dxp[k] = a0;
    dxp[ps + k] = a1;
    dxp[2 * ps + k] = a2;
    dxp[3 * ps + k] = a3;
  }
}

__attribute__((export_name("dw_input_grad"))) void dw_input_grad(const f32 *dy, const f32 *w, f32 *dx, int N, int H, int W, int K, int KH, int KW, int SH,
                                                                int SW, int DH, int DW, int PT, int PL, int HO, int WO) {
  for (int n = 0; n < N; n++) {
    const f32 *dyn = dy + n * HO * WO * K;
    f32 *dxn = dx + n * H * W * K;
    for (int p = 0; p < H; p++) {
      f32 *dxr = dxn + p * W * K;
      for (int r = 0; r < SW && r < W; r++) {
        /* columns q = r + u·SW; tap b applies when (r + PL − b·DW) % SW == 0, at j = u + off_b */
        int ulo = 0, uhi = 0x7fffffff, any = 0;
        for (int b = 0; b < KW; b++) {
          int t = r + PL - b * DW;
          if (t % SW != 0) continue;
          int off = t / SW;
          any = 1;
          if (-off > ulo) ulo = -off;
          if (WO - off < uhi) uhi = WO - off;
        }
        int U = (W - r + SW - 1) / SW;
        if (!any || uhi > U) uhi = any ? U : 0;
        if (ulo > uhi) ulo = uhi;
        int u = 0;
        for (; u < ulo; u++) ig_pixel(dyn, w, dxr + (r + u * SW) * K, K, KH, KW, SH, SW, DH, DW, HO, WO, p + PT, r + u * SW + PL);
        for (; u + 4 <= uhi; u += 4) ig_block4(dyn, w, dxr + (r + u * SW) * K, K, KH, KW, SH, SW, DH, DW, HO, WO, p + PT, r + u * SW + PL);
        for (; u < U; u++) ig_pixel(dyn, w, dxr + (r + u * SW) * K, K, KH, KW, SH, SW, DH, DW, HO, WO, p + PT, r + u * SW + PL);
      }
    }
  }
}

/* ---------------------------------------------------------------- filter gradient */

/*
 * Adds to dw[a, b..b+T−1, k..] the products of one row of dy (n, i) with the x row ih, for T ≤ 4 taps
 * of filter row a: T accumulator vectors per 4 channels over the row's columns (one dy load per T
 * x loads), added to dw once per row. Columns [lo, hi) have all T taps inside the image; the others
 * are checked tap by tap. T is a compile-time constant after inlining.
 */
INLINE void fg_taps(const f32 *xr, const f32 *dyr, f32 *dw, int W, int K, int KW, int SW, int DW, int PL, int WO, int a, int b, int lo, int hi, const int T) {
  const int ts = DW * K; /* x offset between consecutive taps */
  int k = 0;
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

__attribute__((export_name("dw_filter_grad"))) void dw_filter_grad(const f32 *x, const f32 *dy, f32 *dw, int N, int H, int W, int K, int KH, int KW, int SH,
                                                                  int SW, int DH, int DW, int PT, int PL, int HO, int WO) {
  int total = KH * KW * K;
  for (int e = 0; e < total; e++) dw[e] = 0.f;
  for (int n = 0; n < N; n++) {
    for (int i = 0; i < HO; i++) {
      const f32 *dyr = dy + (n * HO + i) * WO * K;
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
