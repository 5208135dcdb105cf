/*
 * Batch norm over the last axis (training mode; inference mode with the moving statistics; the
 * per-example sums of its γ and β for the importances) and ReLU6's gradient in WebAssembly SIMD, for
 * forgetless's tfjs-backend-wasm kernels (`norm-simd.ts`). Linked into the same module as the
 * depthwise kernels (`depthwise-simd.c`, scripts/build-wasm.mjs) under the same rules: it imports
 * tfjs-wasm's memory, every pointer is a byte offset into tfjs's heap (tensors read and written in
 * place), and the code keeps no memory of its own (no globals, static data or C stack).
 *
 * x, y, dy, dx: [P, C] (P = N·H·W values per channel); per-channel vectors [C]. With
 * μ = Σ_p x / P, σ² = Σ_p (x − μ)² / P (biased), r = 1/√(σ² + ε), x̂ = (x − μ)·r:
 *   forward   y = γ·x̂ + β                                    (two reads of x: μ and σ², then y)
 *   backward  ∂β = Σ_p δ,  ∂γ = Σ_p δ·x̂,  ∂x = γ·r·(δ − ∂β/P − x̂·∂γ/P)   (two reads of x and dy)
 * where tfjs ops take ~9 full-size element-wise ops and reductions each way. The `bn_relu_*` pair
 * fuses the ReLU that follows a batch norm, capped at `cap`: 6 for ReLU6 (Keras MobileNetV2's bn →
 * ReLU(max_value=6)), +∞ for a plain ReLU (InceptionV3's and ResNet's bn → Activation('relu')): forward
 * writes min(max(y, 0), cap) (y never stored), backward recomputes y from x, μ, r, γ, β in the same
 * float order as the forward and takes δ = dy·[0 < y ≤ cap] (no δ tensor, no separate mask pass): its
 * sums' pass stores δ into ∂x, which the second pass reads in place of dy and overwrites. The
 * inference-mode kernels and the per-example sums take the same `act` and `cap`.
 *
 * The data is read in blocks of BLOCK rows and, within a block, in chunks of up to 16 channels whose
 * sums and per-channel coefficients stay in registers (loops over the chunk's vectors unrolled), so
 * a block's lines are read from memory once per pass (the statistics' second loop over a block
 * finds it in L1). The forward's statistics merge each block's mean and Σ (x − mean)² into the
 * running ones (Chan, Golub & LeVeque's pairwise update); the backward's sums add each block's sum
 * to the total: float32 rounding grows with the block, not with P. Measured against the memory
 * bandwidth in apps/benchmark/README.md ("Batch norm against the memory bandwidth").
 */
#include <wasm_simd128.h>

typedef float f32;
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)
#define BLOCK 64

/*
 * Chunks of channels: K = 1…4 vectors (4K channels) at a time, at most KS, KA, KG, KD by pass (x64
 * has 16 vector registers: sums + coefficients + temporaries must fit; the other widths tried ran
 * equally fast). Every helper takes x, y, … and the per-channel vectors already offset to the
 * chunk's first channel.
 */
#ifndef KS
#define KS 4 /* forward statistics: 8 sums (8/K rows at a time) + K means */
#endif
#ifndef KA
#define KA 4 /* forward apply: 3K coefficients */
#endif
#ifndef KG
#define KG 2 /* backward sums: 2·GU sums + 3K coefficients (ReLU6) */
#endif
#ifndef KD
#define KD 2 /* backward apply: 4K coefficients */
#endif
#define GU 2 /* backward sums: GU / K rows at a time (2·GU independent sums) */
#define RW 4 /* unroll over k: arrays of 4 vectors, indices constant after inlining (no C stack) */
#define AI static inline __attribute__((always_inline))

static f32 rsqrt1(f32 v) {
  return 1.f / wasm_f32x4_extract_lane(wasm_f32x4_sqrt(wasm_f32x4_splat(v)), 0);
}

/*
 * v, opaque to the compiler (an empty asm statement: no instruction). Keeps constants splatted
 * once outside the loops in a local (clang rematerialises `v128.const` inside them, which V8 builds
 * anew each iteration: hoisting them made the fused gradient ~10 % faster) and a lane mask a plain `v128.and` (clang rewrites and(d, compare) into a
 * `v128.bitselect`, three instructions on x64).
 */
AI v128_t opq(v128_t v) {
  __asm__("" : "+r"(v));
  return v;
}

/* relu6 of four values, NaN kept (as `relu6` below and tfjs's) but −0 too (the caller makes sure no −0 comes); zero and six: the splatted constants */
AI v128_t relu6x4(v128_t v, v128_t zero, v128_t six) {
  /* pmax(a, b) = a < b ? b : a, pmin(a, b) = b < a ? b : a: a NaN v compares false and passes through */
  return wasm_f32x4_pmin(wasm_f32x4_pmax(v, zero), six);
}

AI f32 relus(f32 v, f32 cap) {
  return v != v ? v : v <= 0.f ? 0.f : v > cap ? cap : v; /* −0 → +0, as tfjs's max(x, 0) */
}

AI f32 relu6s(f32 v) {
  return relus(v, 6.f);
}

/*
 * The ReLU's mask 0 < y ≤ cap (cap > 0: 6 for ReLU6, +∞ for ReLU) as one signed compare (delta4): bits(cap)
 * with the sign bit flipped. 0 < y ≤ cap ⇔ 1 ≤ bits(y) ≤ bits(cap) ⇔ bits(y) − 1 < bits(cap) unsigned;
 * −0, negatives and NaNs fall outside (bits(+∞) = 0x7f800000 lies below every NaN's).
 */
AI v128_t mask_lim(f32 cap) {
  union {
    f32 f;
    unsigned u;
  } b = {cap};
  return opq(wasm_i32x4_splat((int)(b.u ^ 0x80000000u)));
}

/*
 * The forward statistics of K vectors of channels over `rows` rows, merged into the running mean and
 * M2 = Σ (x − mean)² of the n rows before (Chan, Golub & LeVeque's pairwise update): the block's
 * mean mb = Σ x / rows and M2b = Σ (x − mb)² (a second loop over the block, in L1), then
 * d = mb − mean, mean += d·rows/(n + rows), M2 += M2b + d²·n·rows/(n + rows). One read of x from memory.
 */
AI void stats_chunk(const f32 *x, f32 *mean, f32 *m2, int rows, int C, int n, int K) {
  const int U = 8 / K; /* rows at a time: U·K = 8 independent sums (an add's latency hidden) */
  v128_t a[8], b[8];   /* [u·K + k] */
  for (int i = 0; i < 8; i++) a[i] = b[i] = wasm_f32x4_splat(0.f);
  int p = 0;
  for (; p + U <= rows; p += U)
    for (int u = 0; u < U; u++)
      for (int k = 0; k < K; k++) a[u * K + k] = wasm_f32x4_add(a[u * K + k], LD(x + (p + u) * C + 4 * k));
  for (; p < rows; p++)
    for (int k = 0; k < K; k++) a[k] = wasm_f32x4_add(a[k], LD(x + p * C + 4 * k));
  for (int w = U / 2; w >= 1; w /= 2)
    for (int i = 0; i < w * K; i++) a[i] = wasm_f32x4_add(a[i], a[i + w * K]);
  const v128_t vr = wasm_f32x4_splat((f32)rows);
  for (int k = 0; k < K; k++) a[k] = wasm_f32x4_div(a[k], vr);
  for (p = 0; p + U <= rows; p += U)
    for (int u = 0; u < U; u++)
      for (int k = 0; k < K; k++) {
        v128_t d = wasm_f32x4_sub(LD(x + (p + u) * C + 4 * k), a[k]);
        b[u * K + k] = wasm_f32x4_add(b[u * K + k], wasm_f32x4_mul(d, d));
      }
  for (; p < rows; p++)
    for (int k = 0; k < K; k++) {
      v128_t d = wasm_f32x4_sub(LD(x + p * C + 4 * k), a[k]);
      b[k] = wasm_f32x4_add(b[k], wasm_f32x4_mul(d, d));
    }
  for (int w = U / 2; w >= 1; w /= 2)
    for (int i = 0; i < w * K; i++) b[i] = wasm_f32x4_add(b[i], b[i + w * K]);
  if (n == 0) {
    for (int k = 0; k < K; k++) {
      ST(mean + 4 * k, a[k]);
      ST(m2 + 4 * k, b[k]);
    }
    return;
  }
  const f32 t = (f32)rows / (f32)(n + rows);
  const v128_t vt = wasm_f32x4_splat(t), vu = wasm_f32x4_splat((f32)n * t);
  for (int k = 0; k < K; k++) {
    v128_t mo = LD(mean + 4 * k), d = wasm_f32x4_sub(a[k], mo);
    ST(mean + 4 * k, wasm_f32x4_add(mo, wasm_f32x4_mul(d, vt)));
    ST(m2 + 4 * k, wasm_f32x4_add(wasm_f32x4_add(LD(m2 + 4 * k), b[k]), wasm_f32x4_mul(wasm_f32x4_mul(d, d), vu)));
  }
}

/* stats_chunk for one channel (channels past the last multiple of 4) */
static void stats_one(const f32 *x, f32 *mean, f32 *m2, int rows, int C, int n) {
  f32 a = 0.f, b = 0.f;
  for (int p = 0; p < rows; p++) a += x[p * C];
  a /= (f32)rows;
  for (int p = 0; p < rows; p++) {
    f32 d = x[p * C] - a;
    b += d * d;
  }
  if (n == 0) {
    *mean = a;
    *m2 = b;
    return;
  }
  const f32 t = (f32)rows / (f32)(n + rows), d = a - *mean;
  *mean += d * t;
  *m2 = *m2 + b + d * d * ((f32)n * t);
}

/* y = (x − μ)·s + β, s = γ·r (x − μ first: exact where x is near μ); min(max(y, 0), cap) when `act` (cap 6: ReLU6, +∞: ReLU) */
AI void apply_chunk(const f32 *x, f32 *y, const f32 *mean, const f32 *gamma, const f32 *rstd, const f32 *beta, int rows, int C, int K, int act, f32 cap) {
  v128_t m[RW], s[RW], b[RW];
  const v128_t zero = opq(wasm_f32x4_splat(0.f)), six = opq(wasm_f32x4_splat(cap));
  for (int k = 0; k < K; k++) {
    m[k] = LD(mean + 4 * k);
    s[k] = wasm_f32x4_mul(LD(gamma + 4 * k), LD(rstd + 4 * k));
    /* β + 0 (−0 → +0): y is then never −0, whose relu6 `relu6x4` would leave −0 (tfjs's is +0); any other y is unchanged */
    b[k] = act ? wasm_f32x4_add(LD(beta + 4 * k), zero) : LD(beta + 4 * k);
  }
  for (int p = 0; p < rows; p++)
    for (int k = 0; k < K; k++) {
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sub(LD(x + p * C + 4 * k), m[k]), s[k]), b[k]);
      ST(y + p * C + 4 * k, act ? relu6x4(v, zero, six) : v); /* six: the cap */
    }
}

static void apply_one(const f32 *x, f32 *y, const f32 *mean, const f32 *gamma, const f32 *rstd, const f32 *beta, int rows, int C, int act, f32 cap) {
  const f32 s = *gamma * *rstd;
  for (int p = 0; p < rows; p++) {
    f32 v = (x[p * C] - *mean) * s + *beta;
    y[p * C] = act ? relus(v, cap) : v;
  }
}

/* Channels [0, C) in chunks of at most KMAX vectors, then one at a time: CALL(c, K) for vectors, ONE(c) for the rest. */
#define CHUNKS(KMAX, CALL, ONE)                                             \
  do {                                                                      \
    int c = 0;                                                              \
    if ((KMAX) >= 4)                                                        \
      for (; c + 16 <= C; c += 16) CALL(c, 4);                              \
    if ((KMAX) >= 2)                                                        \
      for (; c + 8 <= C; c += 8) CALL(c, 2);                                \
    for (; c + 4 <= C; c += 4) CALL(c, 1);                                  \
    for (; c < C; c++) ONE(c);                                              \
  } while (0)

/* The statistics' pass: μ and M2 = Σ (x − μ)² (into var, not divided) over rows [0, P). */
AI void stats_pass(const f32 *x, f32 *mean, f32 *var, int P, int C) {
  for (int p = 0; p < P; p += BLOCK) {
    const int rows = P - p < BLOCK ? P - p : BLOCK;
    const f32 *xb = x + p * C;
#define S_CALL(c, K) stats_chunk(xb + (c), mean + (c), var + (c), rows, C, p, K)
#define S_ONE(c) stats_one(xb + (c), mean + (c), var + (c), rows, C, p)
    CHUNKS(KS, S_CALL, S_ONE);
  }
}

/* The forward's output pass: y = (x − μ)·γ·r + β (min(max(y, 0), cap) when `act`) over rows [0, P). */
AI void apply_pass(const f32 *x, const f32 *gamma, const f32 *beta, f32 *y, const f32 *mean, const f32 *rstd, int P, int C, int act, f32 cap) {
  for (int p = 0; p < P; p += BLOCK) {
    const int rows = P - p < BLOCK ? P - p : BLOCK;
    const f32 *xb = x + p * C;
    f32 *yb = y + p * C;
#define A_CALL(c, K) apply_chunk(xb + (c), yb + (c), mean + (c), gamma + (c), rstd + (c), beta + (c), rows, C, K, act, cap)
#define A_ONE(c) apply_one(xb + (c), yb + (c), mean + (c), gamma + (c), rstd + (c), beta + (c), rows, C, act, cap)
    CHUNKS(KA, A_CALL, A_ONE);
  }
}

/*
 * Training-mode batch norm forward: y (min(max(y, 0), cap) when `act`), and the batch's μ, biased σ² and
 * r = 1/√(σ² + ε) per channel (P ≥ 1). Two reads of x (statistics, then y) and one write of y.
 */
AI void bn_forward_impl(const f32 *x, const f32 *gamma, const f32 *beta, f32 *y, f32 *mean, f32 *var, f32 *rstd, int P, int C, f32 eps, int act, f32 cap) {
  stats_pass(x, mean, var, P, C);
  const f32 inv = 1.f / (f32)P;
  for (int c = 0; c < C; c++) {
    var[c] *= inv;
    rstd[c] = rsqrt1(var[c] + eps);
  }
  apply_pass(x, gamma, beta, y, mean, rstd, P, C, act, cap);
}

__attribute__((export_name("bn_forward"))) void bn_forward(const f32 *x, const f32 *gamma, const f32 *beta, f32 *y, f32 *mean, f32 *var, f32 *rstd, int P,
                                                             int C, f32 eps) {
  bn_forward_impl(x, gamma, beta, y, mean, var, rstd, P, C, eps, 0, 0.f);
}

/* bn_forward followed by a ReLU capped at `cap` (6: ReLU6, +∞: ReLU; cap > 0), in its last pass: out = min(max(γ·x̂ + β, 0), cap). */
__attribute__((export_name("bn_relu_forward"))) void bn_relu_forward(const f32 *x, const f32 *gamma, const f32 *beta, f32 *out, f32 *mean, f32 *var, f32 *rstd,
                                                                       int P, int C, f32 eps, f32 cap) {
  bn_forward_impl(x, gamma, beta, out, mean, var, rstd, P, C, eps, 1, cap);
}

/*
 * δ = dy where the batch norm's output y = (x − μ)·s + β (s = γ·r, as the forward computes it) has
 * 0 < y ≤ cap (the capped ReLU's gradient: ReLU6's as `relu6_grad`, ReLU's dy·step(y); the forward's β + 0
 * changes no mask), else 0; plain dy when `act` is 0. lim: mask_lim(cap).
 */
AI v128_t delta4(v128_t d, v128_t xc, v128_t s, v128_t b, v128_t lim, int act) {
  if (!act) return d;
  v128_t y = wasm_f32x4_add(wasm_f32x4_mul(xc, s), b);
  /* 0 < y ≤ 6 ⇔ bits(y) − 1 < bits(6) unsigned (−0, negatives and NaNs fall outside): a signed compare after flipping the sign bit */
  return wasm_v128_and(d, opq(wasm_i32x4_gt(lim, wasm_i32x4_add(y, wasm_i32x4_splat(0x7fffffff)))));
}

AI f32 delta1(f32 d, f32 xc, f32 s, f32 b, int act, f32 cap) {
  if (!act) return d;
  f32 y = xc * s + b;
  return y > 0.f && y <= cap ? d : 0.f;
}

/*
 * ∂β += Σ_{p < rows} δ,  ∂γ += Σ_{p < rows} δ·(x − μ) over K vectors of channels (one block's sums,
 * then added); δ = dy through the capped ReLU's mask when `act` (1 or 2), plain dy when 0. δ stored into dl when
 * `act` is 1 (the training backward's second pass reads it), or ∂x = δ·γ·r stored there when `inf`
 * (the inference backward: its one pass); nothing stored when `act` is 2 and `inf` 0 (the per-example sums).
 */
AI void gsum_chunk(const f32 *x, const f32 *dy, f32 *dl, const f32 *mean, const f32 *gamma, const f32 *rstd, const f32 *beta, f32 *dbeta, f32 *dgamma, int rows,
                   int C, int K, int act, int inf, f32 cap) {
  const int U = GU / K; /* rows at a time: 2·U·K independent sums */
  v128_t m[RW], s[RW], b[RW], sb[8], sg[8];
  const v128_t lim = mask_lim(cap);
  for (int k = 0; k < K; k++) {
    m[k] = LD(mean + 4 * k);
    s[k] = act || inf ? wasm_f32x4_mul(LD(gamma + 4 * k), LD(rstd + 4 * k)) : m[k];
    b[k] = act ? LD(beta + 4 * k) : m[k];
  }
  for (int i = 0; i < 8; i++) sb[i] = sg[i] = wasm_f32x4_splat(0.f);
  int p = 0;
  for (; p + U <= rows; p += U)
    for (int u = 0; u < U; u++)
      for (int k = 0; k < K; k++) {
        const int o = (p + u) * C + 4 * k, i = u * K + k;
        v128_t xc = wasm_f32x4_sub(LD(x + o), m[k]);
        v128_t d = delta4(LD(dy + o), xc, s[k], b[k], lim, act);
        if (inf)
          ST(dl + o, wasm_f32x4_mul(d, s[k]));
        else if (act == 1)
          ST(dl + o, d);
        sb[i] = wasm_f32x4_add(sb[i], d);
        sg[i] = wasm_f32x4_add(sg[i], wasm_f32x4_mul(d, xc));
      }
  for (; p < rows; p++)
    for (int k = 0; k < K; k++) {
      const int o = p * C + 4 * k;
      v128_t xc = wasm_f32x4_sub(LD(x + o), m[k]);
      v128_t d = delta4(LD(dy + o), xc, s[k], b[k], lim, act);
      if (inf)
        ST(dl + o, wasm_f32x4_mul(d, s[k]));
      else if (act == 1)
        ST(dl + o, d);
      sb[k] = wasm_f32x4_add(sb[k], d);
      sg[k] = wasm_f32x4_add(sg[k], wasm_f32x4_mul(d, xc));
    }
  for (int w = U / 2; w >= 1; w /= 2)
    for (int i = 0; i < w * K; i++) {
      sb[i] = wasm_f32x4_add(sb[i], sb[i + w * K]);
      sg[i] = wasm_f32x4_add(sg[i], sg[i + w * K]);
    }
  for (int k = 0; k < K; k++) {
    ST(dbeta + 4 * k, wasm_f32x4_add(LD(dbeta + 4 * k), sb[k]));
    ST(dgamma + 4 * k, wasm_f32x4_add(LD(dgamma + 4 * k), sg[k]));
  }
}

static void gsum_one(const f32 *x, const f32 *dy, f32 *dl, const f32 *mean, const f32 *gamma, const f32 *rstd, const f32 *beta, f32 *dbeta, f32 *dgamma, int rows, int C,
                     int act, int inf, f32 cap) {
  f32 sb = 0.f, sg = 0.f;
  const f32 s = act || inf ? *gamma * *rstd : 0.f, b = act ? *beta : 0.f;
  for (int p = 0; p < rows; p++) {
    f32 xc = x[p * C] - *mean;
    f32 d = delta1(dy[p * C], xc, s, b, act, cap);
    if (inf)
      dl[p * C] = d * s;
    else if (act == 1)
      dl[p * C] = d;
    sb += d;
    sg += d * xc;
  }
  *dbeta += sb;
  *dgamma += sg;
}

/* ∂x = a·δ − b − e·(x − μ),  a = γ·r,  b = a·∂β/P,  e = a·r·∂γ/P  (∂γ already Σ δ·x̂) */
AI void gapply_chunk(const f32 *x, const f32 *delta, f32 *dx, const f32 *mean, const f32 *gamma, const f32 *rstd, const f32 *dbeta, const f32 *dgamma, f32 inv,
                     int rows, int C, int K) {
  v128_t m[RW], a[RW], b[RW], e[RW];
  const v128_t vinv = wasm_f32x4_splat(inv);
  for (int k = 0; k < K; k++) {
    v128_t r = LD(rstd + 4 * k);
    a[k] = wasm_f32x4_mul(LD(gamma + 4 * k), r);
    v128_t ai = wasm_f32x4_mul(a[k], vinv);
    b[k] = wasm_f32x4_mul(ai, LD(dbeta + 4 * k));
    e[k] = wasm_f32x4_mul(wasm_f32x4_mul(ai, r), LD(dgamma + 4 * k));
    m[k] = LD(mean + 4 * k);
  }
  for (int p = 0; p < rows; p++)
    for (int k = 0; k < K; k++) {
      v128_t xc = wasm_f32x4_sub(LD(x + p * C + 4 * k), m[k]);
      v128_t v = wasm_f32x4_sub(wasm_f32x4_mul(a[k], LD(delta + p * C + 4 * k)), b[k]);
      ST(dx + p * C + 4 * k, wasm_f32x4_sub(v, wasm_f32x4_mul(e[k], xc)));
    }
}

static void gapply_one(const f32 *x, const f32 *delta, f32 *dx, const f32 *mean, const f32 *gamma, const f32 *rstd, const f32 *dbeta, const f32 *dgamma, f32 inv,
                       int rows, int C) {
  const f32 a = *gamma * *rstd, b = a * inv * *dbeta, e = a * inv * *rstd * *dgamma;
  for (int p = 0; p < rows; p++) dx[p * C] = a * delta[p * C] - b - e * (x[p * C] - *mean);
}

/*
 * The backward's first pass over rows [0, P): δ (dy through the capped ReLU's mask when `act`) stored
 * into dx when `act`; ∂β = Σ δ and ∂γ = Σ δ·(x − μ) (not yet times r) written, not added.
 */
AI void grad_sums_pass(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *beta, const f32 *mean, const f32 *rstd, f32 *dx, f32 *dgamma, f32 *dbeta, int P,
                       int C, int act, f32 cap) {
  for (int c = 0; c < C; c++) dbeta[c] = dgamma[c] = 0.f;
  for (int p = 0; p < P; p += BLOCK) {
    const int rows = P - p < BLOCK ? P - p : BLOCK;
    const f32 *xb = x + p * C, *db = dy + p * C;
#define G_CALL(c, K) gsum_chunk(xb + (c), db + (c), dx + p * C + (c), mean + (c), gamma + (c), rstd + (c), beta + (c), dbeta + (c), dgamma + (c), rows, C, K, act, 0, cap)
#define G_ONE(c) gsum_one(xb + (c), db + (c), dx + p * C + (c), mean + (c), gamma + (c), rstd + (c), beta + (c), dbeta + (c), dgamma + (c), rows, C, act, 0, cap)
    CHUNKS(KG, G_CALL, G_ONE);
  }
}

/* The backward's second pass over rows [0, P): ∂x from δ (dy, or what the first pass stored into dx) and the finished ∂β, ∂γ = Σ δ·x̂; inv = 1 / the batch's rows. */
AI void grad_apply_pass(const f32 *x, const f32 *delta, const f32 *gamma, const f32 *mean, const f32 *rstd, const f32 *dgamma, const f32 *dbeta, f32 *dx, int P,
                        int C, f32 inv) {
  for (int p = 0; p < P; p += BLOCK) {
    const int rows = P - p < BLOCK ? P - p : BLOCK;
    const f32 *xb = x + p * C, *sd = delta + p * C;
    f32 *ob = dx + p * C;
#define D_CALL(c, K) gapply_chunk(xb + (c), sd + (c), ob + (c), mean + (c), gamma + (c), rstd + (c), dbeta + (c), dgamma + (c), inv, rows, C, K)
#define D_ONE(c) gapply_one(xb + (c), sd + (c), ob + (c), mean + (c), gamma + (c), rstd + (c), dbeta + (c), dgamma + (c), inv, rows, C)
    CHUNKS(KD, D_CALL, D_ONE);
  }
}

/*
 * Training-mode batch norm backward from the forward's x, γ, μ and r (and β, for the ReLU's mask,
 * when `act`): ∂x, ∂γ, ∂β. Two reads of x and dy (the two sums in one, then ∂x) and one write of ∂x.
 */
AI void bn_backward_impl(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *beta, const f32 *mean, const f32 *rstd, f32 *dx, f32 *dgamma, f32 *dbeta,
                         int P, int C, int act, f32 cap) {
  grad_sums_pass(x, dy, gamma, beta, mean, rstd, dx, dgamma, dbeta, P, C, act, cap);
  for (int c = 0; c < C; c++) dgamma[c] *= rstd[c]; /* Σ δ·(x − μ) → Σ δ·x̂ */
  /* δ: dy, or (a ReLU) dy through its mask, stored into ∂x by the sums' pass */
  grad_apply_pass(x, act ? dx : dy, gamma, mean, rstd, dgamma, dbeta, dx, P, C, 1.f / (f32)P);
}

/* ---------------------------------------------------------------- the passes apart, for slices of the rows on several threads (`norm-simd.ts`) */

/* The forward statistics of rows [0, P) alone: μ and M2 = Σ (x − μ)² per channel (M2 not divided; the caller merges slices). */
__attribute__((export_name("bn_stats"))) void bn_stats(const f32 *x, f32 *mean, f32 *m2, int P, int C) {
  stats_pass(x, mean, m2, P, C);
}

/* The forward's output pass alone over rows [0, P) (μ and r given). */
__attribute__((export_name("bn_apply"))) void bn_apply(const f32 *x, const f32 *gamma, const f32 *beta, f32 *y, const f32 *mean, const f32 *rstd, int P, int C,
                                                         int act, f32 cap) {
  apply_pass(x, gamma, beta, y, mean, rstd, P, C, act, cap);
}

/* The backward's first pass alone (`grad_sums_pass`). */
__attribute__((export_name("bn_grad_sums"))) void bn_grad_sums(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *beta, const f32 *mean, const f32 *rstd,
                                                                 f32 *dx, f32 *dgamma, f32 *dbeta, int P, int C, int act, f32 cap) {
  grad_sums_pass(x, dy, gamma, beta, mean, rstd, dx, dgamma, dbeta, P, C, act, cap);
}

/* The backward's second pass alone over rows [0, P) of a batch of `total` rows (`grad_apply_pass`; delta = dx where bn_grad_sums stored δ there). */
__attribute__((export_name("bn_grad_apply"))) void bn_grad_apply(const f32 *x, const f32 *delta, const f32 *gamma, const f32 *mean, const f32 *rstd,
                                                                   const f32 *dgamma, const f32 *dbeta, f32 *dx, int P, int total, int C) {
  grad_apply_pass(x, delta, gamma, mean, rstd, dgamma, dbeta, dx, P, C, 1.f / (f32)total);
}

__attribute__((export_name("bn_backward"))) void bn_backward(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *mean, const f32 *rstd, f32 *dx, f32 *dgamma,
                                                               f32 *dbeta, int P, int C) {
  bn_backward_impl(x, dy, gamma, 0, mean, rstd, dx, dgamma, dbeta, P, C, 0, 0.f);
}

/* The gradient of bn_relu_forward (the same `cap`) for upstream gradient dy (of the ReLU's output): ∂x, ∂γ, ∂β. */
__attribute__((export_name("bn_relu_backward"))) void bn_relu_backward(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *beta, const f32 *mean,
                                                                         const f32 *rstd, f32 *dx, f32 *dgamma, f32 *dbeta, int P, int C, f32 cap) {
  bn_backward_impl(x, dy, gamma, beta, mean, rstd, dx, dgamma, dbeta, P, C, 1, cap);
}

/* ---------------------------------------------------------------- inference mode */

/*
 * Inference-mode batch norm forward with the moving statistics μ, σ²: stats[0, C) = μ (copied),
 * stats[C, 2C) = r = 1/√(σ² + ε) (one [2, C] tensor the backward reads as the training one's), then
 * y = (x − μ)·(γ·r) + β (min(max(y, 0), cap) when `act`) by the training forward's last pass: one read of x and
 * one write of y, where tfjs's ops take four full-size passes.
 */
AI void bn_infer_forward_impl(const f32 *x, const f32 *gamma, const f32 *beta, const f32 *mmean, const f32 *mvar, f32 *y, f32 *stats, int P, int C, f32 eps,
                              int act, f32 cap) {
  f32 *mean = stats, *rstd = stats + C;
  for (int c = 0; c < C; c++) {
    mean[c] = mmean[c];
    rstd[c] = rsqrt1(mvar[c] + eps);
  }
  apply_pass(x, gamma, beta, y, mean, rstd, P, C, act, cap);
}

__attribute__((export_name("bn_infer_forward"))) void bn_infer_forward(const f32 *x, const f32 *gamma, const f32 *beta, const f32 *mmean, const f32 *mvar, f32 *y,
                                                                         f32 *stats, int P, int C, f32 eps, int act, f32 cap) {
  if (act)
    bn_infer_forward_impl(x, gamma, beta, mmean, mvar, y, stats, P, C, eps, 1, cap);
  else
    bn_infer_forward_impl(x, gamma, beta, mmean, mvar, y, stats, P, C, eps, 0, 0.f);
}

/*
 * Inference-mode batch norm backward (the forward's output through the capped ReLU when `act`) from x, γ, β and
 * the [2, C] statistics (μ, r): ∂x = δ·γ·r, ∂γ = Σ δ·x̂, ∂β = Σ δ. One read of x and dy, one write of ∂x.
 */
AI void bn_infer_backward_impl(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *beta, const f32 *stats, f32 *dx, f32 *dgamma, f32 *dbeta, int P, int C,
                               int act, f32 cap) {
  const f32 *mean = stats, *rstd = stats + C;
  for (int c = 0; c < C; c++) dbeta[c] = dgamma[c] = 0.f;
  for (int p = 0; p < P; p += BLOCK) {
    const int rows = P - p < BLOCK ? P - p : BLOCK;
    const f32 *xb = x + p * C, *db = dy + p * C;
    f32 *ob = dx + p * C;
#define I_CALL(c, K) gsum_chunk(xb + (c), db + (c), ob + (c), mean + (c), gamma + (c), rstd + (c), beta + (c), dbeta + (c), dgamma + (c), rows, C, K, act, 1, cap)
#define I_ONE(c) gsum_one(xb + (c), db + (c), ob + (c), mean + (c), gamma + (c), rstd + (c), beta + (c), dbeta + (c), dgamma + (c), rows, C, act, 1, cap)
    CHUNKS(KG, I_CALL, I_ONE);
  }
  for (int c = 0; c < C; c++) dgamma[c] *= rstd[c];
}

__attribute__((export_name("bn_infer_backward"))) void bn_infer_backward(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *beta, const f32 *stats, f32 *dx,
                                                                           f32 *dgamma, f32 *dbeta, int P, int C, int act, f32 cap) {
  if (act)
    bn_infer_backward_impl(x, dy, gamma, beta, stats, dx, dgamma, dbeta, P, C, 1, cap);
  else
    bn_infer_backward_impl(x, dy, gamma, beta, stats, dx, dgamma, dbeta, P, C, 0, 0.f);
}

/*
 * Per-example sums of an inference-mode batch norm's parameter gradients: for each of N examples of P
 * rows, g_γ,n = Σ_p δ·x̂ and g_β,n = Σ_p δ (x̂ = (x − μ)·r with the moving μ, σ² and r = 1/√(σ² + ε) as
 * `bn_infer_forward` computes it), and out[0, C) = Σ_n stat(g_γ,n), out[C, 2C) = Σ_n stat(g_β,n),
 * stat = square (`square` ≠ 0) or |·|. δ = dy, the gradient at the batch norm's output; or, when `act`,
 * dy is the gradient at the output of the ReLU (capped at `cap`) fused into it (`bn_infer_forward` with `act`) and δ is
 * dy through its mask, computed from x, γ and β as the forward computes its output. γ and β are
 * read only when `act`. `scratch`: 3C floats. One read of x and dy.
 */
__attribute__((export_name("bn_example_sums"))) void bn_example_sums(const f32 *x, const f32 *dy, const f32 *mean, const f32 *mvar, const f32 *gamma, const f32 *beta,
                                                                       f32 eps, f32 *scratch, f32 *out, int N, int P, int C, int square, int act,
                                                                       f32 cap) {
  f32 *rstd = scratch, *sg = scratch + C, *sbeta = scratch + 2 * C;
  for (int c = 0; c < C; c++) rstd[c] = rsqrt1(mvar[c] + eps);
  for (int c = 0; c < 2 * C; c++) out[c] = 0.f;
  for (int n = 0; n < N; n++) {
    const f32 *xn = x + n * P * C, *dn = dy + n * P * C;
    for (int c = 0; c < C; c++) sg[c] = sbeta[c] = 0.f;
    for (int p = 0; p < P; p += BLOCK) {
      const int rows = P - p < BLOCK ? P - p : BLOCK;
      const f32 *xb = xn + p * C, *db = dn + p * C;
      /* gsum_chunk storing nothing: without a ReLU (act 0; its γ and β unused), or through its mask (act 2) */
      if (act) {
#define M_CALL(c, K) gsum_chunk(xb + (c), db + (c), 0, mean + (c), gamma + (c), rstd + (c), beta + (c), sbeta + (c), sg + (c), rows, C, K, 2, 0, cap)
#define M_ONE(c) gsum_one(xb + (c), db + (c), 0, mean + (c), gamma + (c), rstd + (c), beta + (c), sbeta + (c), sg + (c), rows, C, 2, 0, cap)
        CHUNKS(KG, M_CALL, M_ONE);
      } else {
#define E_CALL(c, K) gsum_chunk(xb + (c), db + (c), 0, mean + (c), mean + (c), rstd + (c), mean + (c), sbeta + (c), sg + (c), rows, C, K, 0, 0, cap)
#define E_ONE(c) gsum_one(xb + (c), db + (c), 0, mean + (c), mean + (c), rstd + (c), mean + (c), sbeta + (c), sg + (c), rows, C, 0, 0, cap)
        CHUNKS(KG, E_CALL, E_ONE);
      }
    }
    for (int c = 0; c < C; c++) {
      f32 g = sg[c] * rstd[c], b = sbeta[c];
      out[c] += square ? g * g : (g < 0.f ? -g : g);
      out[C + c] += square ? b * b : (b < 0.f ? -b : b);
    }
  }
}

/*
 * bn_infer_backward and bn_example_sums in one pass over x and dy, for the per-example importances: ∂x
 * as bn_infer_backward computes it, ∂γ and ∂β summed example by example (the same values up to
 * rounding), and the per-example sums Σ_n g² into `sq` and Σ_n |g| into `ab` ([2, C] each, laid out as
 * bn_example_sums lays them; either may be 0: not wanted), the same to the bit as bn_example_sums
 * computes them (the same blocks of rows, the same δ). With `wts` (N floats; 0: none) the squares are
 * weighted, Σ_n w_n·g² (the exact Fisher's p(k|x_n)); the absolute values are not. N examples of P
 * rows. `scratch`: 2C floats.
 */
AI void bn_infer_backward_sums_impl(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *beta, const f32 *stats, f32 *dx, f32 *dgamma, f32 *dbeta,
                                    f32 *scratch, f32 *sq, f32 *ab, const f32 *wts, int N, int P, int C, int act, f32 cap) {
  const f32 *mean = stats, *rstd = stats + C;
  f32 *sg = scratch, *sbeta = scratch + C;
  for (int c = 0; c < C; c++) dbeta[c] = dgamma[c] = 0.f;
  for (int c = 0; c < 2 * C; c++) {
    if (sq) sq[c] = 0.f;
    if (ab) ab[c] = 0.f;
  }
  for (int n = 0; n < N; n++) {
    const f32 *xn = x + n * P * C, *dn = dy + n * P * C;
    f32 *on = dx + n * P * C;
    for (int c = 0; c < C; c++) sg[c] = sbeta[c] = 0.f;
    for (int p = 0; p < P; p += BLOCK) {
      const int rows = P - p < BLOCK ? P - p : BLOCK;
      const f32 *xb = xn + p * C, *db = dn + p * C;
      f32 *ob = on + p * C;
#define X_CALL(c, K) gsum_chunk(xb + (c), db + (c), ob + (c), mean + (c), gamma + (c), rstd + (c), beta + (c), sbeta + (c), sg + (c), rows, C, K, act, 1, cap)
#define X_ONE(c) gsum_one(xb + (c), db + (c), ob + (c), mean + (c), gamma + (c), rstd + (c), beta + (c), sbeta + (c), sg + (c), rows, C, act, 1, cap)
      CHUNKS(KG, X_CALL, X_ONE);
    }
    const f32 wn = wts ? wts[n] : 1.f; /* 1·v = v exactly: unweighted sums as bn_example_sums' */
    for (int c = 0; c < C; c++) {
      f32 g = sg[c] * rstd[c], b = sbeta[c];
      dgamma[c] += sg[c];
      dbeta[c] += b;
      if (sq) {
        sq[c] += wn * (g * g);
        sq[C + c] += wn * (b * b);
      }
      if (ab) {
        ab[c] += g < 0.f ? -g : g;
        ab[C + c] += b < 0.f ? -b : b;
      }
    }
  }
  for (int c = 0; c < C; c++) dgamma[c] *= rstd[c];
}

__attribute__((export_name("bn_infer_backward_sums"))) void bn_infer_backward_sums(const f32 *x, const f32 *dy, const f32 *gamma, const f32 *beta, const f32 *stats,
                                                                                     f32 *dx, f32 *dgamma, f32 *dbeta, f32 *scratch, f32 *sq, f32 *ab, const f32 *wts,
                                                                                     int N, int P, int C, int act, f32 cap) {
  if (act)
    bn_infer_backward_sums_impl(x, dy, gamma, beta, stats, dx, dgamma, dbeta, scratch, sq, ab, wts, N, P, C, 1, cap);
  else
    bn_infer_backward_sums_impl(x, dy, gamma, beta, stats, dx, dgamma, dbeta, scratch, sq, ab, wts, N, P, C, 0, 0.f);
}

/* ReLU6's gradient: dx = dy where 0 < x ≤ 6, else 0 (tfjs's dy·[x ≤ 6]·step(x)), n values. */
__attribute__((export_name("relu6_grad"))) void relu6_grad(const f32 *x, const f32 *dy, f32 *dx, int n) {
  int i = 0;
  const v128_t z = wasm_f32x4_splat(0.f), six = opq(wasm_f32x4_splat(6.f));
  for (; i + 4 <= n; i += 4) {
    v128_t v = LD(x + i);
    v128_t m = opq(wasm_v128_and(wasm_f32x4_gt(v, z), wasm_f32x4_le(v, six)));
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
    v128_t m = opq(wasm_v128_and(wasm_f32x4_ge(v, vl), wasm_f32x4_le(v, vh)));
    ST(dx + i, wasm_v128_and(LD(dy + i), m));
  }
  for (; i < n; i++) dx[i] = x[i] >= lo && x[i] <= hi ? dy[i] : 0.f;
}

/* ReLU6: y = min(max(x, 0), 6), n values (NaN stays NaN, as tfjs's). */
__attribute__((export_name("relu6"))) void relu6(const f32 *x, f32 *y, int n) {
  int i = 0;
  const v128_t z = opq(wasm_f32x4_splat(0.f)), six = opq(wasm_f32x4_splat(6.f));
  for (; i + 4 <= n; i += 4) {
    v128_t v = LD(x + i);
    /* pmax(v, 0) = v < 0 ? 0 : v and pmin(w, 6) = 6 < w ? 6 : w pass a NaN through; + 0 turns −0 into +0 (as tfjs's max(x, 0)) */
    ST(y + i, wasm_f32x4_pmin(wasm_f32x4_add(wasm_f32x4_pmax(v, z), z), six));
  }
  for (; i < n; i++) {
    f32 v = x[i];
    y[i] = relu6s(v);
  }
}
