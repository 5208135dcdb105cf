/* Memory-traffic floors for memory-floor.mjs: a read of n floats (SIMD adds, four accumulators) and a write of
   4n floats from n (the stride-2 input gradient's traffic: it writes four values for each one it reads). */
#include <wasm_simd128.h>
typedef float f32;
__attribute__((export_name("read_sum"))) f32 read_sum(const f32 *p, int n) {
  v128_t a = wasm_f32x4_splat(0), b = a, c = a, d = a;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    a = wasm_f32x4_add(a, wasm_v128_load(p + i));
    b = wasm_f32x4_add(b, wasm_v128_load(p + i + 4));
    c = wasm_f32x4_add(c, wasm_v128_load(p + i + 8));
    d = wasm_f32x4_add(d, wasm_v128_load(p + i + 12));
  }
  a = wasm_f32x4_add(wasm_f32x4_add(a, b), wasm_f32x4_add(c, d));
  return wasm_f32x4_extract_lane(a, 0) + wasm_f32x4_extract_lane(a, 1) + wasm_f32x4_extract_lane(a, 2) + wasm_f32x4_extract_lane(a, 3);
}
/* reads n floats, writes each 4 times (y of 4n floats): the stride-2 input gradient's traffic */
__attribute__((export_name("expand4"))) void expand4(const f32 *x, f32 *y, int n) {
  for (int i = 0; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    wasm_v128_store(y + 4 * i, v); wasm_v128_store(y + 4 * i + 4, v); wasm_v128_store(y + 4 * i + 8, v); wasm_v128_store(y + 4 * i + 12, v);
  }
}
