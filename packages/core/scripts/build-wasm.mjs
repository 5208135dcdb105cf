#!/usr/bin/env node
/**
 * Builds forgetless's WebAssembly SIMD kernels (src/ops/depthwise-simd.c: depthwise convolutions;
 * src/ops/norm-simd.c: batch norm, ReLU6 and ReLU; src/ops/gemm-simd.c: 1×1 and patch convolutions;
 * src/ops/update-simd.c: SGD and Adam; src/ops/pool-simd.c: max pooling's gradient) into one WebAssembly module with
 * Debian's clang 14 + lld and writes them, base64, into src/ops/depthwise-simd.wasm.ts (committed:
 * the package ships the bytes, so it needs no fetch and no compiler to install).
 *
 * Two variants of the same code: one importing an ordinary memory (tfjs-backend-wasm's one-thread
 * builds) and one importing a shared memory (its threaded build). The module must not touch linear
 * memory of its own (it runs inside tfjs's heap): this script fails if it has a data section or
 * imports anything but the memory, and, when wabt's wasm2wat is installed, if any function reads or
 * writes a global (`__stack_pointer`: the C stack).
 *
 *   node scripts/build-wasm.mjs           rebuild and write the module
 *   node scripts/build-wasm.mjs --check   rebuild and compare with the committed module (exit 1 if different)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The C sources linked into the one module (its exports: the depthwise kernels, batch norm, ReLU6, 1×1 convolutions, the SGD and Adam updates, max pooling's gradient). */
export const SOURCES = [
  join(root, 'src/ops/depthwise-simd.c'),
  join(root, 'src/ops/norm-simd.c'),
  join(root, 'src/ops/gemm-simd.c'),
  join(root, 'src/ops/update-simd.c'),
  join(root, 'src/ops/pool-simd.c'),
];
export const OUTPUT = join(root, 'src/ops/depthwise-simd.wasm.ts');

const COMMON = ['--target=wasm32', '-O3', '-msimd128', '-nostdlib', '-fno-builtin', '-Wall', '-Werror', '-Wl,--no-entry', '-Wl,--import-memory'];
const VARIANTS = {
  plain: [],
  shared: ['-matomics', '-mbulk-memory', '-Wl,--shared-memory', '-Wl,--max-memory=4294967296'],
};

/** The clang binary (clang, or Debian's versioned clang-14), or undefined when none is installed. */
export function findClang() {
  for (const c of ['clang', 'clang-14']) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  return undefined;
}

/** Top-level sections of a wasm binary: [{ id, start, end }]. */
function sections(bytes) {
  const out = [];
  let p = 8;
  const leb = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++];
      v |= (b & 0x7f) << shift;
      shift += 7;
      if (!(b & 0x80)) return v >>> 0;
    }
  };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = leb();
    out.push({ id, start: p, end: p + size });
    p += size;
  }
  return out;
}

/** Fails unless the module only imports a memory and keeps no memory of its own. */
function checkModule(bytes, name, file) {
  const mod = new WebAssembly.Module(bytes, {});
  const imports = WebAssembly.Module.imports(mod);
  if (imports.length !== 1 || imports[0].kind !== 'memory') throw new Error(`${name}: expected one import (the memory), got ${JSON.stringify(imports)}`);
  if (sections(bytes).some((s) => s.id === 11)) throw new Error(`${name}: the module has a data section (static data in tfjs's heap)`);
  const wat = spawnSync('wasm2wat', ['--enable-threads', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }); // the text runs to MBs
  if (wat.status === 0 && /global\.(get|set)/.test(wat.stdout))
    throw new Error(`${name}: the code uses a global (the C stack, __stack_pointer, in tfjs's heap): ${wat.stdout.match(/.*global\.(get|set).*/)?.[0]}`);
  return wat.status === 0;
}

/** Compiles both variants; returns their bytes and the compiler's version line. */
export function buildDepthwiseWasm(clang = findClang()) {
  if (!clang) throw new Error('build-wasm: clang is not installed (scripts/install-system-deps.sh installs clang and lld)');
  const dir = mkdtempSync(join(tmpdir(), 'forgetless-wasm-'));
  try {
    const out = {};
    let disassembled = true;
    for (const [name, flags] of Object.entries(VARIANTS)) {
      const file = join(dir, `${name}.wasm`);
      execFileSync(clang, [...COMMON, ...flags, '-o', file, ...SOURCES], { stdio: ['ignore', 'inherit', 'inherit'] });
      out[name] = new Uint8Array(readFileSync(file));
      disassembled = checkModule(out[name], name, file) && disassembled;
    }
    const version = execFileSync(clang, ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
    return { plain: out.plain, shared: out.shared, version, disassembled };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The TypeScript module holding both binaries. */
export function moduleText({ plain, shared, version }) {
  const b64 = (u8) => Buffer.from(u8).toString('base64');
  return `// Generated by scripts/build-wasm.mjs (npm run build:wasm -w @forgetless/core) from ${SOURCES.map((f) => f.split('/').pop()).join(', ')}
// with ${version}: do not edit. A test rebuilds it from the C source and compares the bytes.

/** The kernels importing an ordinary memory (tfjs-backend-wasm's one-thread builds), base64. */
export const DEPTHWISE_SIMD_WASM =
  '${b64(plain)}';

/** The same kernels importing a shared memory (tfjs-backend-wasm's threaded build), base64. */
export const DEPTHWISE_SIMD_SHARED_WASM =
  '${b64(shared)}';
`;
}

/** The committed binaries, decoded from the generated module's text. */
export function committedBinaries() {
  const text = readFileSync(OUTPUT, 'utf8');
  const get = (name) => {
    const m = text.match(new RegExp(`${name} =\\s*'([^']*)'`));
    if (!m) throw new Error(`build-wasm: ${OUTPUT} has no ${name}`);
    return new Uint8Array(Buffer.from(m[1], 'base64'));
  };
  return { plain: get('DEPTHWISE_SIMD_WASM'), shared: get('DEPTHWISE_SIMD_SHARED_WASM') };
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const built = buildDepthwiseWasm();
  if (!built.disassembled) console.warn('build-wasm: wasm2wat (wabt) not found, the no-global check was skipped');
  if (process.argv.includes('--check')) {
    const committed = committedBinaries();
    const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
    if (!same(committed.plain, built.plain) || !same(committed.shared, built.shared)) {
      console.error(
        'build-wasm: src/ops/depthwise-simd.wasm.ts differs from a rebuild of depthwise-simd.c, norm-simd.c and gemm-simd.c: run npm run build:wasm -w @forgetless/core',
      );
      process.exit(1);
    }
    console.log(`build-wasm: the committed module matches the source (${built.version})`);
  } else {
    writeFileSync(OUTPUT, moduleText(built));
    console.log(`build-wasm: wrote ${OUTPUT} (${built.plain.length} + ${built.shared.length} bytes, ${built.version})`);
  }
}
