// The demo's browser page: `npm run web:dev | web:build | web:preview -w @forgetless/cli`.
// The embedded Fashion-MNIST subset is served as static files (publicDir: the datasets package's
// `data/` folder, so `fashion-mnist-subset/*.gz` sit beside the page, licence notice included) and
// the tfjs wasm binaries are imported with `?url`: the built page works offline.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Connect, type Plugin, defineConfig } from 'vite';

const require = createRequire(import.meta.url);
const datasetsRoot = dirname(require.resolve('@forgetless/datasets/package.json'));
const DATA_DIR = join(datasetsRoot, 'data', 'fashion-mnist-subset');

/**
 * Vite's dev and preview servers send `*.gz` files with `Content-Encoding: gzip`, so the browser
 * would hand the page decompressed bytes whose SHA-256 is not the file's. This middleware, ahead of
 * them, serves the data files as they are (application/octet-stream).
 */
function rawGzipData(): Plugin {
  const serve: Connect.NextHandleFunction = (req, res, next) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0] ?? '');
    const match = /\/fashion-mnist-subset\/([^/]+\.gz)$/.exec(path);
    const file = match ? join(DATA_DIR, basename(match[1] as string)) : undefined;
    if (!file || !existsSync(file)) return next();
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': statSync(file).size, 'Cache-Control': 'no-cache' });
    createReadStream(file).pipe(res);
  };
  return {
    name: 'forgetless-raw-gzip-data',
    configureServer: (server) => void server.middlewares.use(serve),
    configurePreviewServer: (server) => void server.middlewares.use(serve),
  };
}

/** The headers that make the page cross-origin isolated (`crossOriginIsolated`: SharedArrayBuffer, wasm threads). */
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: join(datasetsRoot, 'data'),
  plugins: [rawGzipData()],
  // Cross-origin isolated (COOP/COEP), so the worker's wasm backend may take tfjs's threaded build: tfjs then
  // runs half the cores' threads (up to 4), and forgetless's kernels split over them. The page loads
  // nothing from other origins. A host that sends no such headers gets the one-thread build.
  server: { headers: ISOLATION },
  preview: { headers: ISOLATION },
  worker: { format: 'es' },
  // The dev server pre-bundles every dependency up front: the worker (started by `new Worker(new URL(...))`,
  // which Vite's scan does not follow) and the WebGL backend (a dynamic import) are scanned too, so the
  // first Run does not discover new dependencies, re-optimise and reload the page under it.
  optimizeDeps: {
    entries: ['index.html', 'worker.ts', 'kernels.html'],
    include: ['vega-embed', 'fflate', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgl'],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
    // the page, and the SIMD kernel check page (kernels.html: kernels.ts)
    rollupOptions: { input: { main: fileURLToPath(new URL('index.html', import.meta.url)), kernels: fileURLToPath(new URL('kernels.html', import.meta.url)) } },
  },
  logLevel: 'warn',
});
