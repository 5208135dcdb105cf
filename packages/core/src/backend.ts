/**
 * Backend selection. forgetless speaks tfjs-core only; the application picks the backend. Backend
 * packages are optional peers, imported lazily, so an application installs only the ones it uses.
 */
import * as tf from '@tensorflow/tfjs-core';

export type BackendName = 'cpu' | 'wasm' | 'tensorflow' | 'tensorflow-gpu';

const PACKAGES: Record<BackendName, string> = {
  cpu: '@tensorflow/tfjs-backend-cpu',
  wasm: '@tensorflow/tfjs-backend-wasm',
  tensorflow: '@tensorflow/tfjs-node',
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
};

/** Registered tfjs backend name for each forgetless backend name. */
const TFJS_NAME: Record<BackendName, string> = { cpu: 'cpu', wasm: 'wasm', tensorflow: 'tensorflow', 'tensorflow-gpu': 'tensorflow' };

export interface UseBackendOptions {
  /** wasm: use SIMD where the platform has it (default true). */
  simd?: boolean;
  /** wasm: threads (default: tfjs's choice; Node runs one thread). */
  threads?: boolean;
}

function installHint(name: BackendName): string {
  const pkg = PACKAGES[name];
  if (name === 'tensorflow' || name === 'tensorflow-gpu') {
    return (
      `install it with \`npm install ${pkg}@^4.22.0\`. Its install step downloads the libtensorflow binary ` +
      `from Google's storage, so it fails on machines without internet access or on platforms it has no ` +
      `binary for${name === 'tensorflow-gpu' ? ' (and needs CUDA and cuDNN)' : ''}; use 'wasm' or 'cpu' there.`
    );
  }
  return `install it with \`npm install ${pkg}@^4.22.0\`.`;
}

async function importBackend(name: BackendName): Promise<void> {
  const pkg = PACKAGES[name];
  try {
    await import(/* @vite-ignore */ pkg);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    const missing = err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(err.message ?? '');
    if (missing) throw new Error(`backend '${name}' needs the package ${pkg}, which is not installed: ${installHint(name)}`);
    throw new Error(`backend '${name}': loading ${pkg} failed: ${err.message ?? String(e)}. ${installHint(name)}`);
  }
}

/**
 * Loads (if needed) and activates a backend. Returns the tfjs backend name now in use.
 * wasm finds its .wasm binaries beside its package in Node without `setWasmPaths`.
 */
export async function useBackend(name: BackendName, options: UseBackendOptions = {}): Promise<string> {
  if (!(name in PACKAGES)) {
    throw new Error(`unknown backend '${String(name)}' (expected one of ${Object.keys(PACKAGES).join(', ')})`);
  }
  const tfjsName = TFJS_NAME[name];
  // The package registers its flags when imported, so load it before setting them.
  if (tf.findBackendFactory(tfjsName) === null || tf.findBackendFactory(tfjsName) === undefined) await importBackend(name);
  if (name === 'wasm') {
    // Flags are read when the backend initialises: they take effect in a process that has not used wasm yet.
    if (options.simd === false) tf.env().set('WASM_HAS_SIMD_SUPPORT', false);
    if (options.threads === false) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  }
  const ok = await tf.setBackend(tfjsName);
  if (!ok) throw new Error(`backend '${name}' failed to initialise (tf.setBackend('${tfjsName}') returned false)`);
  await tf.ready();
  return tf.getBackend();
}

/** Backends whose packages can be loaded here, each with the reason when not. */
export async function probeBackends(): Promise<{ name: BackendName; available: boolean; reason?: string }[]> {
  const out: { name: BackendName; available: boolean; reason?: string }[] = [];
  for (const name of Object.keys(PACKAGES) as BackendName[]) {
    try {
      if (!tf.findBackendFactory(TFJS_NAME[name])) await importBackend(name);
      out.push({ name, available: true });
    } catch (e) {
      out.push({ name, available: false, reason: (e as Error).message });
    }
  }
  return out;
}
