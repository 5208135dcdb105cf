/*
 * Training-mode batch norm over the last axis and ReLU6's gradient in WebAssembly SIMD, for
 * forgetless's tfjs-backend-wasm kernels (`norm-simd.ts`). Linked into the same module as the
 * depthwise kernels (`depthwise-simd.c`, scripts/build-wasm.mjs) under the same rules: it imports
 * tfjs-wasm's memory, every pointer is a byte offset into tfjs's heap (tensors read and written in
 * place), and the code keeps no memory of its own (no globals, static data or C stack).
 *
 * x, y, dy, dx: [P, C] (P = N·H·W values per channel); per-channel vectors [C]. With
 * μ = Σ_p x / P, σ² = Σ_p (x − μ)² / P (biased), r = 1/√(σ² + ε), x̂ = (x − μ)·r:
 *   forward   y = γ·x̂ + β                                    (three passes: μ, σ², y)
 *   backward  ∂β = Σ_p δ,  ∂γ = Σ_p δ·x̂,  ∂x = γ·r·(δ − ∂β/P − x̂·∂γ/P)   (two passes)
 * where tfjs ops take ~9 full-size element-wise ops and reductions each way. The `bn_relu6_*` pair
 * fuses the ReLU6 that follows a batch norm (Keras MobileNetV2's bn → ReLU(max_value=6)): forward
 * writes relu6(y) (y never stored), backward recomputes y from x, μ, r, γ, β in the same float order
 * as the forward and takes δ = dy·[0 < y ≤ 6] in its passes (no δ tensor, no separate mask pass). Sums over p run in
 * blocks of BLOCK rows, each block's sum added to the total (float32 rounding grows with the block,
 * not with P); a block's partial sums live in an output tensor's first row(s) until it is written.
 */
#include <wasm_simd128.h>

typedef float f32;
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)
#define BLOCK 64

/* acc[c] = Σ_{p < rows} x[p, c] (acc overwritten). */
static void sum_rows(const f32 *x, f32 *acc, int rows, int C) {
  int c = 0;
  for (; c + 4 <= C; c += 4) {
    v128_t s = wasm_f32x4_splat(0.f);
    for (int p = 0; p < rows; p++) s = wasm_f32x4_add(s, LD(x + p * C + c));
    ST(acc + c, s);
  }
  for (; c < C; c++) {
    f32 s = 0.f;
    for (int p = 0; p < rows; p++) s += x[p * C + c];
    acc[c] = s;
  }
}

/* acc[c] = Σ_{p < rows} (x[p, c] − m[c])² (acc overwritten). */
static void sq_dev_rows(const f32 *x, const f32 *m, f32 *acc, int rows, int C) {
  int c = 0;
  for (; c + 4 <= C; c += 4) {
    v128_t s = wasm_f32x4_splat(0.f);
    const v128_t mu = LD(m + c);
    for (int p = 0; p < rows; p++) {
      v128_t d = wasm_f32x4_sub(LD(x + p * C + c), mu);
      s = wasm_f32x4_add(s, wasm_f32x4_mul(d, d));
    }
    ST(acc + c, s);
  }
  for (; c < C; c++) {
    f32 s = 0.f;
    for (int p = 0; p < rows; p++) {
      f32 d = x[p * C + c] - m[c];
      s += d * d;
    }
    acc[c] = s;
  }
}

/* a[c] += b[c] */
static void add_to(f32 *a, const f32 *b, int C) {
  int c = 0;
  for (; c + 4 <= C; c += 4) ST(a + c, wasm_f32x4_add(LD(a + c), LD(b + c)));
  for (; c < C; c++) a[c] += b[c];
}

static void zero(f32 *a, int C) {
  for (int c = 0; c < C; c++) a[c] = 0.f;
}

static f32 rsqrt1(f32 v) {
  return 1.f / wasm_f32x4_extract_lane(wasm_f32x4_sqrt(wasm_f32x4_splat(v)), 0);
}

/* relu6 of four values, NaN kept (as `relu6` below and tfjs's) */
static inline v128_t relu6x4(v128_t v) {
  v128_t r = wasm_f32x4_pmin(wasm_f32x4_splat(6.f), wasm_f32x4_pmax(wasm_f32x4_splat(0.f), v));
  return wasm_v128_bitselect(v, r, wasm_f32x4_ne(v, v));
}

static inline f32 relu6s(f32 v) {
  return v != v ? v : v < 0.f ? 0.f : v > 6.f ? 6.f : v;
}

/*
 * Training-mode batch norm forward: y (relu6(y) when `act`), and the batch's μ, biased σ² and
 * r = 1/√(σ² + ε) per channel. The output's first row holds each block's partial sums until the
 * last pass writes it (P ≥ 1).
 */
static inline __attribute__((always_inline)) void bn_forward_impl(const f32 *x, const f32 *gamma, const f32 *beta, f32 *y, f32 *mean, f32 *var, f32 *rstd,
                                                                  int P, int C, f32 eps, int act) {
  f32 *part = y;
  zero(mean, C);
  for (int p = 0; p < P; p += BLOCK) {
    int rows = P - p < BLOCK ? P - p : BLOCK;
    sum_rows(x + p * C, part, rows, C);
    add_to(mean, part, C);
  }
  const f32 inv = 1.f / (f32)P;
  for (int c = 0; c < C; c++) mean[c] *= inv;
  zero(var, C);
  for (int p = 0; p < P; p += BLOCK) {
    int rows = P - p < BLOCK ? P - p : BLOCK;
    sq_dev_rows(x + p * C, mean, part, rows, C);
    add_to(var, part, C);
  }
  for (int c = 0; c < C; c++) {
    var[c] *= inv;
    rstd[c] = rsqrt1(var[c] + eps);
  }
  /* y = (x − μ)·s + β, s = γ·r (x − μ first: exact where x is near μ) */
  for (int p = 0; p < P; p++) {
    const f32 *xp = x + p * C;
    f32 *yp = y + p * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      v128_t s = wasm_f32x4_mul(LD(gamma + c), LD(rstd + c));
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sub(LD(xp + c), LD(mean + c)), s), LD(beta + c));
      ST(yp + c, act ? relu6x4(v) : v);
    }
    for (; c < C; c++) {
      f32 v = (xp[c] - mean[c]) * (gamma[c] * rstd[c]) + beta[c];
      yp[c] = act ? relu6s(v) : v;
    }
  }
}

__attribute__((export_name("bn_forward"))) void bn_forward(const f32 *x, const f32 *gamma, const f32 *beta, f32 *y, f32 *mean, f32 *var, f32 *rstd, int P,
                                                             int C, f32 eps) {
  bn_forward_impl(x, gamma, beta, y, mean, var, rstd, P, C, eps, 0);
}

/* bn_forward followed by ReLU6, in its last pass: out = relu6(γ·x̂ + β). */
__attribute__((export_name("bn_relu6_forward"))) void bn_relu6_forward(const f32 *x, const f32 *gamma, const f32 *beta, f32 *out, f32 *mean, f32 *var,
                                                                         f32 *rstd, int P, int C, f32 eps) {
  bn_forward_impl(x, gamma, beta, out, mean, var, rstd, P, C, eps, 1);
}

/*
 * δ = dy where the batch norm's output y = (x − μ)·s + β (s = γ·r, as the forward computes it) has
 * 0 < y ≤ 6 (ReLU6's gradient, as `relu6_grad`), else 0; plain dy when `act` is 0.
 */
static inline v128_t delta4(v128_t d, v128_t xc, v128_t s, v128_t b, int act) {
  if (!act) return d;
  v128_t y = wasm_f32x4_add(wasm_f32x4_mul(xc, s), b);
  return wasm_v128_and(d, wasm_v128_and(wasm_f32x4_gt(y, wasm_f32x4_splat(0.f)), wasm_f32x4_le(y, wasm_f32x4_splat(6.f))));
}

static inline f32 delta1(f32 d, f32 xc, f32 s, f32 b, int act) {
  if (!act) return d;
  f32 y = xc * s + b;
  return y > 0.f && y <= 6.f ? d : 0.f;
}

/* pb[c] = Σ_{p < rows} δ[p, c],  pg[c] = Σ_{p < rows} δ[p, c]·(x[p, c] − m[c]) (both overwritten). */
static inline __attribute__((always_inline)) void grad_sums_rows(const f32 *x, const f32 *dy, const f32 *m, const f32 *gamma, const f32 *rstd, const f32 *beta,
                                                                 f32 *pb, f32 *pg, int rows, int C, int act) {
  int c = 0;
  for (; c + 4 <= C; c += 4) {
    v128_t sb = wasm_f32x4_splat(0.f), sg = sb;
    const v128_t mu = LD(m + c);
    const v128_t s = act ? wasm_f32x4_mul(LD(gamma + c), LD(rstd + c)) : sb, b = act ? LD(beta + c) : sb;
    for (int p = 0; p < rows; p++) {
      v128_t xc = wasm_f32x4_sub(LD(x + p * C + c), mu);
      v128_t d = delta4(LD(dy + p * C + c), xc, s, b, act);
      sb = wasm_f32x4_add(sb, d);
      sg = wasm_f32x4_add(sg, wasm_f32x4_mul(d, xc));
    }
    ST(pb + c, sb);
    ST(pg + c, sg);
  }
  for (; c < C; c++) {
    f32 sb = 0.f, sg = 0.f;
    const f32 s = act ? gamma[c] * rstd[c] : 0.f, b = act ? beta[c] : 0.f;
    for (int p = 0; p < rows; p++) {
      f32 xc = x[p * C + c] - m[c];
      f32 d = delta1(dy[p * C + c], xc, s, b, act);
      sb += d;
      sg += d * xc;
    }
    pb[c] = sb;
    pg[c] = sg;
  }
}

/*
 * Training-mode batch norm backward from the forward's x, γ, μ and r (and β, for the ReLU6 mask,
 * when `act`): ∂x, ∂γ, ∂β. dx's first two rows hold each block's partial sums until the last pass
 * writes them (P ≥ 2; P = 1 sums directly).
 */
static inline __attribute__((always_inline)) void bn_backward_impl(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *beta, const f32 *mean, const f32 *rstd,
                                                                   f32 *dx, f32 *dgamma, f32 *dbeta, int P, int C, int act) {
  if (P < 2) {
    grad_sums_rows(x, dy, mean, gamma, rstd, beta, dbeta, dgamma, P, C, act);
  } else {
    f32 *pb = dx, *pg = dx + C;
    zero(dbeta, C);
    zero(dgamma, C);
    for (int p = 0; p < P; p += BLOCK) {
      int rows = P - p < BLOCK ? P - p : BLOCK;
      grad_sums_rows(x + p * C, dy + p * C, mean, gamma, rstd, beta, pb, pg, rows, C, act);
      add_to(dbeta, pb, C);
      add_to(dgamma, pg, C);
    }
  }
  for (int c = 0; c < C; c++) dgamma[c] *= rstd[c]; /* Σ δ·(x − μ) → Σ δ·x̂ */
  /* ∂x = a·δ − b − e·(x − μ),  a = γ·r,  b = a·∂β/P,  e = a·r·∂γ/P */
  const f32 inv = 1.f / (f32)P;
  const v128_t vinv = wasm_f32x4_splat(inv);
  for (int p = 0; p < P; p++) {
    const f32 *xp = x + p * C, *dp = dy + p * C;
    f32 *op = dx + p * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      v128_t r = LD(rstd + c);
      v128_t a = wasm_f32x4_mul(LD(gamma + c), r);
      v128_t ai = wasm_f32x4_mul(a, vinv);
      v128_t b = wasm_f32x4_mul(ai, LD(dbeta + c));
      v128_t e = wasm_f32x4_mul(wasm_f32x4_mul(ai, r), LD(dgamma + c));
      v128_t xc = wasm_f32x4_sub(LD(xp + c), LD(mean + c));
      v128_t d = delta4(LD(dp + c), xc, a, act ? LD(beta + c) : b, act); /* b unused when !act */
      v128_t v = wasm_f32x4_sub(wasm_f32x4_mul(a, d), b);
      ST(op + c, wasm_f32x4_sub(v, wasm_f32x4_mul(e, xc)));
    }
    for (; c < C; c++) {
      f32 a = gamma[c] * rstd[c];
      f32 xc = xp[c] - mean[c];
      f32 d = delta1(dp[c], xc, a, act ? beta[c] : 0.f, act);
      op[c] = a * d - a * inv * dbeta[c] - a * inv * rstd[c] * dgamma[c] * xc;
    }
  }
}

__attribute__((export_name("bn_backward"))) void bn_backward(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *mean, const f32 *rstd, f32 *dx, f32 *dgamma,
                                                               f32 *dbeta, int P, int C) {
  bn_backward_impl(x, dy, gamma, 0, mean, rstd, dx, dgamma, dbeta, P, C, 0);
}

/* The gradient of bn_relu6_forward for upstream gradient dy (of the ReLU6's output): ∂x, ∂γ, ∂β. */
__attribute__((export_name("bn_relu6_backward"))) void bn_relu6_backward(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *beta, const f32 *mean,
                                                                           const f32 *rstd, f32 *dx, f32 *dgamma, f32 *dbeta, int P, int C) {
  bn_backward_impl(x, dy, gamma, beta, mean, rstd, dx, dgamma, dbeta, P, C, 1);
}

/* ReLU6's gradient: dx = dy where 0 < x ≤ 6, else 0 (tfjs's dy·[x ≤ 6]·step(x)), n values. */
__attribute__((export_name("relu6_grad"))) void relu6_grad(const f32 *x, const f32 *dy, f32 *dx, int n) {
  int i = 0;
  const v128_t z = wasm_f32x4_splat(0.f), six = wasm_f32x4_splat(6.f);
  for (; i + 4 <= n; i += 4) {
    v128_t v = LD(x + i);
    v128_t m = wasm_v128_and(wasm_f32x4_gt(v, z), wasm_f32x4_le(v, six));
    ST(dx + i, wasm_v128_and(LD(dy + i), m));
  }
  for (; i < n; i++) dx[i] = x[i] > 0.f && x[i] <= 6.f ? dy[i] : 0.f;
}

/* ClipByValue's gradient: dx = dy where lo ≤ x ≤ hi, else 0 (tfjs's where(x ≥ lo ∧ x ≤ hi, dy, 0); NaN x gives 0), n values. */
__attribute__((export_name("clip_grad"))) void clip_grad(const f32 *x, const f32 *dy, f32 *dx, int n, f32 lo, f32 hi) {
  int i = 0;
  const v128_t vl = wasm_f32x4_splat(lo), vh = wasm_f32x4_splat(hi);
  for (; i + 4 <= n; i += 4) {
    v128_t v = LD(x + i);
    v128_t m = wasm_v128_and(wasm_f32x4_ge(v, vl), wasm_f32x4_le(v, vh));
    ST(dx + i, wasm_v128_and(LD(dy + i), m));
  }
  for (; i < n; i++) dx[i] = x[i] >= lo && x[i] <= hi ? dy[i] : 0.f;
}

/* ReLU6: y = min(max(x, 0), 6), n values (NaN stays NaN, as tfjs's). */
__attribute__((export_name("relu6"))) void relu6(const f32 *x, f32 *y, int n) {
  int i = 0;
  const v128_t z = wasm_f32x4_splat(0.f), six = wasm_f32x4_splat(6.f);
  for (; i + 4 <= n; i += 4) {
    v128_t v = LD(x + i);
    /* NaN lanes kept: select x where it is not ordered-comparable */
    v128_t r = wasm_f32x4_pmin(six, wasm_f32x4_pmax(z, v));
    ST(y + i, wasm_v128_bitselect(v, r, wasm_f32x4_ne(v, v)));
  }
  for (; i < n; i++) {
    f32 v = x[i];
    y[i] = v != v ? v : v < 0.f ? 0.f : v > 6.f ? 6.f : v;
  }
}
