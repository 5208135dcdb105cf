/*
 * 1×1 (pointwise) convolutions at unit stride as matrix products in WebAssembly SIMD, for
 * forgetless's tfjs-backend-wasm kernels (`gemm-simd.ts`). Linked into the same module as the
 * depthwise kernels (`depthwise-simd.c`, scripts/build-wasm.mjs) under the same rules: it imports
 * tfjs-wasm's memory, every pointer is a byte offset into tfjs's heap (tensors read and written in
 * place), and the code keeps no memory of its own (no globals, static data or C stack).
 *
 * With x: [P, C] (P = N·H·W pixels), W: [C, O] (the [1, 1, C, O] filter), dy: [P, O]:
 *   forward          y  = x·W        [P, O]
 *   filter gradient  ∂W = xᵀ·dy      [C, O]   read from x and dy as they are (no transpose of x,
 *                                             no packed copy of dy, where tfjs's matMul needs both)
 *   input gradient   ∂x = dy·Wᵀ      [P, C]   through Wᵀ written to a scratch buffer (C·O floats)
 * One register-blocked micro-kernel: a 4×8 tile of the product (8 accumulators), per step of the
 * reduction one 8-wide row of the right-hand side (2 loads) against 4 broadcast left-hand values,
 * 8 multiply-adds for 6 loads; 4×4, 1×8, 1×4 and scalar tiles at the edges. The filter gradient
 * reduces over P in chunks of KC rows (the chunk of x and dy stays in cache across the tiles: 64 rows,
 * 1.4× faster than 256 at 144→48 channels, where a 256-row chunk of x alone is 147 KB).
 */
#include <wasm_simd128.h>

typedef float f32;
#define INLINE static inline __attribute__((always_inline))
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)
#define MADD(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))
#define KC 64

/*
 * C[i, j] (+)= Σ_{k < K} A(i, k)·B[k, j] for i < MR (4 or 1), j < 8·NV (NV = 2 or 1),
 * A(i, k) = A[i·sam + k·sak], B rows ldb apart, C rows ldc apart; acc ≠ 0 adds to C.
 */
INLINE void tile(const f32 *A, int sam, int sak, const f32 *B, int ldb, f32 *C, int ldc, int K, const int MR, const int NV, int acc) {
  v128_t c[4][2];
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NV; v++) c[i][v] = acc ? LD(C + i * ldc + 4 * v) : wasm_f32x4_splat(0.f);
  for (int k = 0; k < K; k++) {
    const f32 *b = B + k * ldb;
    v128_t b0 = LD(b), b1 = NV > 1 ? LD(b + 4) : b0;
    const f32 *a = A + k * sak;
    for (int i = 0; i < MR; i++) {
      v128_t ai = wasm_f32x4_splat(a[i * sam]);
      MADD(c[i][0], ai, b0);
      if (NV > 1) MADD(c[i][1], ai, b1);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NV; v++) ST(C + i * ldc + 4 * v, c[i][v]);
}

/* The columns j ≥ n4 (fewer than 4) of rows [0, MR) one by one. */
INLINE void tile_tail(const f32 *A, int sam, int sak, const f32 *B, int ldb, f32 *C, int ldc, int K, int MR, int n4, int N, int acc) {
  for (int i = 0; i < MR; i++)
    for (int j = n4; j < N; j++) {
      f32 s = acc ? C[i * ldc + j] : 0.f;
      for (int k = 0; k < K; k++) s += A[i * sam + k * sak] * B[k * ldb + j];
      C[i * ldc + j] = s;
    }
}

/* Rows [0, MR) of C: all N columns in 8-, 4- and 1-wide tiles. */
INLINE void row_block(const f32 *A, int sam, int sak, const f32 *B, int ldb, f32 *C, int ldc, int K, int N, const int MR, int acc) {
  int j = 0;
  for (; j + 8 <= N; j += 8) tile(A, sam, sak, B + j, ldb, C + j, ldc, K, MR, 2, acc);
  for (; j + 4 <= N; j += 4) tile(A, sam, sak, B + j, ldb, C + j, ldc, K, MR, 1, acc);
  if (j < N) tile_tail(A, sam, sak, B, ldb, C, ldc, K, MR, j, N, acc);
}

/*
 * C[M, N] (+)= A·B over K, A(i, k) = A[i·sam + k·sak], B: [K, N], C: [M, N] (row-major).
 * Row blocks outer: each block of 4 rows of C sweeps all of B. Where B outgrows 256 KB (K·N > 2¹⁶
 * floats: MobileNetV2's last 1×1 convolutions, 960 → 320 and 320 → 1280, and wide dense layers),
 * that sweep comes from L3 once per row block; there B is taken in panels of 16 columns outer (a
 * panel's K lines stay in L2 across the row blocks): 1.1–1.3× faster at [72, 960]·[960, 320] and
 * [100, 784]·[784, 300]. Panels of 8, 32 or 64 columns, and blocks of 32–128 rows inside each panel,
 * were slower or no faster. Each C value is the same sum in the same order either way.
 */
static void gemm(const f32 *A, int sam, int sak, const f32 *B, f32 *C, int M, int N, int K, int acc) {
  const int pw = K * N > 65536 && N >= 32 ? 16 : N; /* panel width: all of B in one panel unless it outgrows 256 KB */
  for (int j = 0; j < N; j += pw) {
    const int nj = N - j < pw ? N - j : pw;
    int i = 0;
    for (; i + 4 <= M; i += 4) row_block(A + i * sam, sam, sak, B + j, N, C + i * N + j, N, K, nj, 4, acc);
    for (; i < M; i++) row_block(A + i * sam, sam, sak, B + j, N, C + i * N + j, N, K, nj, 1, acc);
  }
}

/* y[P, O] = x[P, C]·W[C, O]. */
__attribute__((export_name("pw_forward"))) void pw_forward(const f32 *x, const f32 *w, f32 *y, int P, int C, int O) {
  gemm(x, C, 1, w, y, P, O, C, 0);
}

/* ∂W[C, O] = x[P, C]ᵀ·dy[P, O], reduced over P in chunks of KC pixels. */
__attribute__((export_name("pw_filter_grad"))) void pw_filter_grad(const f32 *x, const f32 *dy, f32 *dw, int P, int C, int O) {
  if (P == 0) {
    for (int e = 0; e < C * O; e++) dw[e] = 0.f;
    return;
  }
  for (int p = 0; p < P; p += KC) {
    int rows = P - p < KC ? P - p : KC;
    gemm(x + p * C, 1, C, dy + p * O, dw, C, O, rows, p > 0);
  }
}

/* ∂x[P, C] = dy[P, O]·W[C, O]ᵀ, Wᵀ written to wt (C·O floats of scratch) first. */
__attribute__((export_name("pw_input_grad"))) void pw_input_grad(const f32 *dy, const f32 *w, f32 *wt, f32 *dx, int P, int C, int O) {
  for (int c = 0; c < C; c++)
    for (int o = 0; o < O; o++) wt[o * C + c] = w[c * O + o];
  gemm(dy, O, 1, wt, dx, P, C, O, 0);
}

/* dw_accumulate (`depthwise-simd.c`): acc = or += |g| or g², len floats */
void dw_accumulate(const f32 *g, f32 *acc, int len, int square, int first);

/*
 * ∂W of a general convolution (any kh×kw, stride, dilation, padding, channel count), as a product
 * over patches built a chunk at a time (implicit im2col). With K = kh·kw·C and the patch row
 * of output pixel r = (n, i, j),
 *   X[r, (a, b, c)] = x[n, i·sh + a·dh − pt, j·sw + b·dw − pl, c]   (0 outside x),
 * ∂W[(a, b, c), o] = Σ_r X[r, (a, b, c)]·dy[r, o] = Xᵀ·dy, the filter's [kh, kw, C, O] layout. For
 * each chunk of up to kc output pixels the kernel writes their patch rows to X (kc·K4 floats of
 * scratch, in cache; rows padded with zeros to K4 = K rounded up to a multiple of 4, so that the
 * product runs in whole 4-row tiles), then adds Xᵀ·dy of the chunk to ∂W with the 1×1 filter
 * gradient's micro-kernel (dy read in place; into scratch, K4·O floats after X, when K4 > K). Where
 * C is a few channels (a network's stem: 3 → 16 or 32 at stride 2), building the patches is what
 * tfjs's formulations spend their time on (transposes, a convolution with an Ho×Wo kernel); here
 * each filter row of a patch is one run of kw·C floats of x (at unit dilation, inside x), copied
 * by vectors. Where C is large the product dominates, and ∂W (K·O) outgrows the cache: it is then
 * computed in blocks of kb rows, each over all pixels, with only the block's columns of the patches
 * written (`conv_filter_grad`).
 */

/*
 * The columns [*jlo, *jhi) among j … j + cnt − 1 of an output row whose kw taps all lie inside x's
 * W columns; at unit dilation only (otherwise none: every pixel is checked tap by tap).
 */
INLINE void interior_cols(int j, int cnt, int W, int kw, int sw, int dwd, int pl, int *jlo, int *jhi) {
  int lo = j + cnt, hi = j + cnt;
  if (dwd == 1) {
    lo = pl > 0 ? (pl + sw - 1) / sw : 0;
    hi = W - kw + pl < 0 ? 0 : (W - kw + pl) / sw + 1;
    if (lo < j) lo = j;
    if (hi > j + cnt) hi = j + cnt;
    if (lo > hi) lo = hi;
  }
  *jlo = lo;
  *jhi = hi;
}

/*
 * Columns [k0, k0 + bk4) of the patch rows of `cnt` pixels of output row (n, i), from column j on,
 * into X (rows bk4 apart; columns past K zero). Filter row a holds columns [a·kw·C, (a + 1)·kw·C):
 * the part of it in the block is one run of x where the pixel's kw taps lie inside x (unit dilation).
 */
INLINE void patch_rows(const f32 *xn, f32 *X, int cnt, int i, int j, int H, int W, int C, int K, int k0, int bk4, int kh, int kw, int sh, int sw, int dh, int dwd,
                       int pt, int pl) {
  const int kwC = kw * C;
  const int k1 = k0 + bk4 < K ? k0 + bk4 : K;
  int jlo, jhi;
  interior_cols(j, cnt, W, kw, sw, dwd, pl, &jlo, &jhi);
  for (int a = k0 / kwC; a < kh && a * kwC < k1; a++) {
    const int lo = k0 > a * kwC ? k0 - a * kwC : 0;           /* the block's run of filter row a: [lo, hi) */
    const int hi = k1 < (a + 1) * kwC ? k1 - a * kwC : kwC;
    const int len = hi - lo;
    const int y = i * sh + a * dh - pt;
    f32 *row = X + a * kwC + lo - k0;
    if (y < 0 || y >= H) {
      for (int r = 0; r < cnt; r++)
        for (int e = 0; e < len; e++) row[r * bk4 + e] = 0.f;
      continue;
    }
    const f32 *xr = xn + y * W * C;
    for (int jj = j; jj < j + cnt; jj++) {
      f32 *out = row + (jj - j) * bk4;
      const int q0 = jj * sw - pl;
      if (jj >= jlo && jj < jhi) {
        const f32 *src = xr + q0 * C + lo;
        int e = 0;
        for (; e + 4 <= len; e += 4) ST(out + e, LD(src + e));
        for (; e < len; e++) out[e] = src[e];
        continue;
      }
      for (int b = lo / C; b * C < hi; b++) {
        const int c0 = lo > b * C ? lo - b * C : 0, c1 = hi < (b + 1) * C ? hi - b * C : C;
        const int q = q0 + b * dwd;
        f32 *o = out + b * C - lo;
        if (q < 0 || q >= W)
          for (int c = c0; c < c1; c++) o[c] = 0.f;
        else
          for (int c = c0; c < c1; c++) o[c] = xr[q * C + c];
      }
    }
  }
  for (int r = 0; r < cnt; r++)
    for (int e = k1 - k0; e < bk4; e++) X[r * bk4 + e] = 0.f;
}

/*
 * ∂W[K, O] (the [kh, kw, C, O] filter) of x [N, H, W, C] for dy [N, Ho, Wo, O]. ∂W is computed in
 * blocks of kb rows (a multiple of 4; kb ≥ K: one block), each over all pixels in chunks of kc: the
 * block (kb·O floats) stays in cache while the pixels stream by, where one block of all K rows is
 * reloaded from memory once per chunk at wide layers (3×3 512 → 512: 9 MB). X: kc·min(kb, K4)
 * (+ K4·O when K4 > K) floats of scratch.
 */
__attribute__((export_name("conv_filter_grad"))) void conv_filter_grad(const f32 *x, const f32 *dy, f32 *dw, f32 *X, int N, int H, int W, int C, int Ho, int Wo,
                                                                        int O, int kh, int kw, int sh, int sw, int dh, int dwd, int pt, int pl, int kc, int kb) {
  const int K = kh * kw * C;
  const int K4 = (K + 3) & ~3;
  const int P = N * Ho * Wo;
  if (kb > K4) kb = K4;
  f32 *acc = K4 == K ? dw : X + kc * kb; /* ∂W with the padded rows */
  if (P == 0) {
    for (int e = 0; e < K * O; e++) dw[e] = 0.f;
    return;
  }
  for (int k0 = 0; k0 < K4; k0 += kb) {
    const int bk4 = K4 - k0 < kb ? K4 - k0 : kb;
    int n = 0, i = 0, j = 0; /* the chunk's first pixel */
    for (int p = 0; p < P; p += kc) {
      const int rows = P - p < kc ? P - p : kc;
      for (int r = 0; r < rows;) {
        /* the rest of output row (n, i) from column j, or the rest of the chunk */
        const int cnt = Wo - j < rows - r ? Wo - j : rows - r;
        patch_rows(x + n * H * W * C, X + r * bk4, cnt, i, j, H, W, C, K, k0, bk4, kh, kw, sh, sw, dh, dwd, pt, pl);
        r += cnt;
        j += cnt;
        if (j == Wo) {
          j = 0;
          if (++i == Ho) {
            i = 0;
            n++;
          }
        }
      }
      gemm(X, 1, bk4, dy + p * O, acc + k0 * O, bk4, O, rows, p > 0);
    }
  }
  if (acc != dw)
    for (int e = 0; e < K * O; e++) dw[e] = acc[e];
}

/*
 * The forward of the same convolutions: y[r, o] = Σ_(a, b, c) X[r, (a, b, c)]·W[(a, b, c), o] = X·W,
 * W the [kh, kw, C, O] filter read in place as a K×O matrix. An output row's pixels whose taps all lie
 * inside x (at unit column dilation) read x in place, as an implicit product: for filter row a the
 * patch values of pixel j are the kw·C floats of x from (i·sh + a·dh − pt, j·sw − pl), so a 4-pixel
 * tile reads A(p, (a, e)) = x[row a + p·sw·C + e] (`itile`). The other pixels (borders, padding,
 * column dilation) go through patch rows in scratch (`patch_rows`, the filter gradient's; their
 * K4 − K padding columns are zero and not read) and the 1×1 forward's micro-kernel (`gemm`), up to kc
 * pixels at a time. Writes only y and X (kc·K4 floats of scratch).
 */

/* C[p, j] = Σ_{a < kh, e < kwC} A[a·ars + p·sam + e]·B[(a·kwC + e)·ldb + j] for p < MR (4 or 1), j < 8·NV. */
INLINE void itile(const f32 *A, int ars, int sam, int kwC, int kh, const f32 *B, int ldb, f32 *C, int ldc, const int MR, const int NV) {
  v128_t c[4][2];
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NV; v++) c[i][v] = wasm_f32x4_splat(0.f);
  for (int a = 0; a < kh; a++) {
    const f32 *Aa = A + a * ars;
    const f32 *Ba = B + a * kwC * ldb;
    for (int e = 0; e < kwC; e++) {
      const f32 *b = Ba + e * ldb;
      v128_t b0 = LD(b), b1 = NV > 1 ? LD(b + 4) : b0;
      for (int i = 0; i < MR; i++) {
        v128_t ai = wasm_f32x4_splat(Aa[i * sam + e]);
        MADD(c[i][0], ai, b0);
        if (NV > 1) MADD(c[i][1], ai, b1);
      }
    }
  }
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NV; v++) ST(C + i * ldc + 4 * v, c[i][v]);
}

/* Rows [0, MR) of y (pixels sam floats of x apart): all O columns in 8-, 4- and 1-wide tiles. */
INLINE void irow_block(const f32 *A, int ars, int sam, int kwC, int kh, const f32 *B, f32 *C, int O, const int MR) {
  int j = 0;
  for (; j + 8 <= O; j += 8) itile(A, ars, sam, kwC, kh, B + j, O, C + j, O, MR, 2);
  for (; j + 4 <= O; j += 4) itile(A, ars, sam, kwC, kh, B + j, O, C + j, O, MR, 1);
  for (int i = 0; i < MR; i++)
    for (int jj = j; jj < O; jj++) {
      f32 s = 0.f;
      for (int a = 0; a < kh; a++)
        for (int e = 0; e < kwC; e++) s += A[a * ars + i * sam + e] * B[(a * kwC + e) * O + jj];
      C[i * O + jj] = s;
    }
}

/* y of columns [j0, j1) of output row (n, i) through patch rows, kc pixels at a time. */
INLINE void patch_span(const f32 *xn, const f32 *w, f32 *yr, f32 *X, int j0, int j1, int i, int H, int W, int C, int O, int K, int K4, int kh, int kw, int sh, int sw, int dh,
                       int dwd, int pt, int pl, int kc) {
  for (int j = j0; j < j1; j += kc) {
    const int cnt = j1 - j < kc ? j1 - j : kc;
    patch_rows(xn, X, cnt, i, j, H, W, C, K, 0, K4, kh, kw, sh, sw, dh, dwd, pt, pl);
    gemm(X, K4, 1, w, yr + j * O, cnt, O, K, 0);
  }
}

__attribute__((export_name("conv_forward"))) void conv_forward(const f32 *x, const f32 *w, f32 *y, f32 *X, int N, int H, int W, int C, int Ho, int Wo, int O, int kh,
                                                                int kw, int sh, int sw, int dh, int dwd, int pt, int pl, int kc) {
  const int K = kh * kw * C;
  const int K4 = (K + 3) & ~3;
  const int kwC = kw * C;
  /* columns whose kw taps all lie inside x, at unit column dilation: [jlo, jhi) */
  int jlo = 0, jhi = 0;
  if (dwd == 1) {
    jlo = pl > 0 ? (pl + sw - 1) / sw : 0;
    jhi = W - kw + pl < 0 ? 0 : (W - kw + pl) / sw + 1;
    if (jhi > Wo) jhi = Wo;
    if (jlo > jhi) jlo = jhi;
  }
  for (int n = 0; n < N; n++) {
    const f32 *xn = x + n * H * W * C;
    for (int i = 0; i < Ho; i++) {
      f32 *yr = y + (n * Ho + i) * Wo * O;
      const int y0 = i * sh - pt;
      if (jlo == jhi || y0 < 0 || y0 + (kh - 1) * dh >= H) {
        patch_span(xn, w, yr, X, 0, Wo, i, H, W, C, O, K, K4, kh, kw, sh, sw, dh, dwd, pt, pl, kc);
        continue;
      }
      patch_span(xn, w, yr, X, 0, jlo, i, H, W, C, O, K, K4, kh, kw, sh, sw, dh, dwd, pt, pl, kc);
      const f32 *xr = xn + y0 * W * C - pl * C;
      const int ars = dh * W * C, sam = sw * C;
      int j = jlo;
      for (; j + 4 <= jhi; j += 4) irow_block(xr + j * sam, ars, sam, kwC, kh, w, yr + j * O, O, 4);
      for (; j < jhi; j++) irow_block(xr + j * sam, ars, sam, kwC, kh, w, yr + j * O, O, 1);
      patch_span(xn, w, yr, X, jhi, Wo, i, H, W, C, O, K, K4, kh, kw, sh, sw, dh, dwd, pt, pl, kc);
    }
  }
}

/*
 * ∂x of the same convolutions (any kh×kw, stride, dilation, padding): with G = dy·Wᵀ the patch
 * gradients ([P, K], G[r, (a, b, c)] = Σ_o dy[r, o]·W[(a, b, c), o]), ∂x is G's rows added back where
 * the patches came from (col2im, the reverse of `patch_rows`):
 *   ∂x[n, i·sh + a·dh − pt, j·sw + b·dw − pl, c] += G[(n, i, j), (a, b, c)]   (inside x).
 * Wᵀ ([O, K]) is written to scratch once; then, per chunk of up to kc output pixels, the chunk's G
 * (kc·K floats of scratch, in cache) by the 1×1 micro-kernel in column stripes of NB (the stripe of
 * Wᵀ, O·NB floats, stays in L1 across the chunk's row tiles), and its rows are added into ∂x (zeroed
 * first): filter row a of a pixel whose kw taps lie inside x (unit dilation) is one run of kw·C floats.
 * Writes only dx and its scratch (K4·O + kc·K4 floats, K4 = K rounded up to a multiple of 4).
 */
#define NB 32

/* C[M, N] = A·B over K, A(i, k) = A[i·sam + k·sak], B: [K, N] rows ldb apart, C rows ldc apart, in stripes of NB columns. */
static void gemm_striped(const f32 *A, int sam, int sak, const f32 *B, int ldb, f32 *C, int ldc, int M, int N, int K) {
  for (int j0 = 0; j0 < N; j0 += NB) {
    const int nb = N - j0 < NB ? N - j0 : NB;
    int i = 0;
    for (; i + 4 <= M; i += 4) row_block(A + i * sam, sam, sak, B + j0, ldb, C + i * ldc + j0, ldc, K, nb, 4, 0);
    for (; i < M; i++) row_block(A + i * sam, sam, sak, B + j0, ldb, C + i * ldc + j0, ldc, K, nb, 1, 0);
  }
}

/* dst[0, L) += g[0, L). */
INLINE void add_run_n(f32 *dst, const f32 *g, const int L) {
  int e = 0;
  for (; e + 4 <= L; e += 4) ST(dst + e, wasm_f32x4_add(LD(dst + e), LD(g + e)));
  for (; e < L; e++) dst[e] += g[e];
}

/* The same, with L a constant where it is a filter row of 3×3, 5×5 or 7×7 on 3 channels (a stem's: 1.05× on 3×3 stride 2). */
INLINE void add_run(f32 *dst, const f32 *g, int L) {
  switch (L) {
  case 9:
    add_run_n(dst, g, 9);
    break;
  case 15:
    add_run_n(dst, g, 15);
    break;
  case 21:
    add_run_n(dst, g, 21);
    break;
  default:
    add_run_n(dst, g, L);
    break;
  }
}

/* Adds the patch-gradient rows of `cnt` pixels of output row (n, i), from column j on, from G (rows K apart, K ≥ kh·kw·C) into ∂x of image n. */
INLINE void unpatch_rows(f32 *dxn, const f32 *G, int cnt, int i, int j, int H, int W, int C, int K, int kh, int kw, int sh, int sw, int dh, int dwd, int pt, int pl) {
  const int kwC = kw * C;
  int jlo, jhi;
  interior_cols(j, cnt, W, kw, sw, dwd, pl, &jlo, &jhi);
  for (int a = 0; a < kh; a++) {
    const int y = i * sh + a * dh - pt;
    if (y < 0 || y >= H) continue;
    f32 *xr = dxn + y * W * C;
    const f32 *row = G + a * kwC;
    for (int jj = j; jj < j + cnt; jj++) {
      const f32 *g = row + (jj - j) * K;
      const int q0 = jj * sw - pl;
      if (jj >= jlo && jj < jhi) {
        add_run(xr + q0 * C, g, kwC);
        continue;
      }
      for (int b = 0; b < kw; b++) {
        const int q = q0 + b * dwd;
        if (q < 0 || q >= W) continue;
        f32 *dst = xr + q * C;
        const f32 *gb = g + b * C;
        int c = 0;
        for (; c + 4 <= C; c += 4) ST(dst + c, wasm_f32x4_add(LD(dst + c), LD(gb + c)));
        for (; c < C; c++) dst[c] += gb[c];
      }
    }
  }
}

__attribute__((export_name("conv_input_grad"))) void conv_input_grad(const f32 *dy, const f32 *w, f32 *dx, f32 *S, int N, int H, int W, int C, int Ho, int Wo, int O,
                                                                      int kh, int kw, int sh, int sw, int dh, int dwd, int pt, int pl, int kc) {
  const int K = kh * kw * C;
  const int P = N * Ho * Wo;
  const int size = N * H * W * C;
  {
    int e = 0;
    for (; e + 4 <= size; e += 4) ST(dx + e, wasm_f32x4_splat(0.f));
    for (; e < size; e++) dx[e] = 0.f;
  }
  if (P == 0 || K == 0) return;
  /* Wᵀ's and G's rows padded with zeros to K4 = K rounded up to a multiple of 4, so that the product
     runs in whole vector tiles (a stem's K = 27 left 3 columns to scalar code: 1.4× slower, 3×3
     stride 2 on 3 channels) */
  const int K4 = (K + 3) & ~3;
  f32 *wt = S, *G = S + K4 * O;
  for (int o = 0; o < O; o++) {
    for (int k = 0; k < K; k++) wt[o * K4 + k] = w[k * O + o];
    for (int k = K; k < K4; k++) wt[o * K4 + k] = 0.f;
  }
  int n = 0, i = 0, j = 0; /* the chunk's first pixel */
  for (int p = 0; p < P; p += kc) {
    const int rows = P - p < kc ? P - p : kc;
    gemm_striped(dy + p * O, O, 1, wt, K4, G, K4, rows, K4, O);
    for (int r = 0; r < rows;) {
      const int cnt = Wo - j < rows - r ? Wo - j : rows - r;
      unpatch_rows(dx + n * H * W * C, G + r * K4, cnt, i, j, H, W, C, K4, kh, kw, sh, sw, dh, dwd, pt, pl);
      r += cnt;
      j += cnt;
      if (j == Wo) {
        j = 0;
        if (++i == Ho) {
          i = 0;
          n++;
        }
      }
    }
  }
}

/*
 * SIG's signal under each tap of a convolution: out[a, b, c] = Σ_n Σ_{i<Ho, j<Wo}
 * |x[n, i·sh + a·dh − pt, j·sw + b·dw − pl, c]| / (Ho·Wo), positions outside x counting 0 (the
 * padding's zeros). Each output row's sums go to `row` (kh·kw·C floats of scratch) first, then to
 * out: float32 rounding grows with Wo and with N·Ho, not with their product. One read of x per tap
 * from cache.
 */
__attribute__((export_name("tap_abs_sums"))) void tap_abs_sums(const f32 *x, f32 *out, f32 *row, int N, int H, int W, int C, int Ho, int Wo, int kh, int kw, int sh,
                                                               int sw, int dh, int dw, int pt, int pl) {
  const int K = kh * kw * C;
  for (int e = 0; e < K; e++) out[e] = 0.f;
  if (Ho * Wo == 0) return;
  for (int n = 0; n < N; n++)
    for (int i = 0; i < Ho; i++) {
      for (int e = 0; e < K; e++) row[e] = 0.f;
      for (int a = 0; a < kh; a++) {
        const int r = i * sh + a * dh - pt;
        if (r < 0 || r >= H) continue;
        const f32 *xr = x + (n * H + r) * W * C;
        for (int j = 0; j < Wo; j++)
          for (int b = 0; b < kw; b++) {
            const int q = j * sw + b * dw - pl;
            if (q < 0 || q >= W) continue;
            const f32 *src = xr + q * C;
            f32 *dst = row + (a * kw + b) * C;
            int c = 0;
            for (; c + 4 <= C; c += 4) ST(dst + c, wasm_f32x4_add(LD(dst + c), wasm_f32x4_abs(LD(src + c))));
            for (; c < C; c++) dst[c] += src[c] < 0.f ? -src[c] : src[c];
          }
      }
      int e = 0;
      for (; e + 4 <= K; e += 4) ST(out + e, wasm_f32x4_add(LD(out + e), LD(row + e)));
      for (; e < K; e++) out[e] += row[e];
    }
  const f32 inv = 1.f / (f32)(Ho * Wo);
  for (int e = 0; e < K; e++) out[e] *= inv;
}

/*
 * Σ_e stat(∂W_e) over N examples into out (written, not added), stat = g² (`square`) or |g|: per
 * example the filter gradient (`pw_filter_grad` when `pointwise`, a 1×1 unit-stride filter; else
 * `conv_filter_grad` on one example) into scratch[0, len), then added (`dw_accumulate`). scratch:
 * len floats, then conv_filter_grad's own scratch. The loop of `convPerExampleSum` (gemm-simd.ts) in
 * one call, so that a range of examples is one slice for the kernel threads.
 */
__attribute__((export_name("conv_example_sums"))) void conv_example_sums(const f32 *x, const f32 *dy, f32 *out, f32 *scratch, int N, int H, int W, int C, int Ho,
                                                                          int Wo, int O, int kh, int kw, int sh, int sw, int dh, int dwd, int pt, int pl, int kc,
                                                                          int kb, int pointwise, int square) {
  const int len = kh * kw * C * O;
  for (int e = 0; e < N; e++) {
    const f32 *xe = x + e * H * W * C, *de = dy + e * Ho * Wo * O;
    if (pointwise)
      pw_filter_grad(xe, de, scratch, H * W, C, O);
    else
      conv_filter_grad(xe, de, scratch, scratch + len, 1, H, W, C, Ho, Wo, O, kh, kw, sh, sw, dh, dwd, pt, pl, kc, kb);
    dw_accumulate(scratch, out, len, square, e == 0);
  }
}
