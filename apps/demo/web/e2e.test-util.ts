/**
 * What the page's e2e tests share: Chromium, a static server for the built page (globalSetup,
 * e2e-setup.ts, builds it), and readers of the page's state and of its Vega charts' marks.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const HERE = fileURLToPath(new URL('.', import.meta.url));
export const DIST = join(HERE, 'dist');
export const OUTPUT = join(HERE, 'e2e-output');
export const haveChromium = existsSync(CHROMIUM);

if (!haveChromium) {
  console.warn(`demo page e2e: skipped, ${CHROMIUM} is absent (install Debian's chromium: bash scripts/install-system-deps.sh)`);
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gz': 'application/octet-stream',
  '.json': 'application/json',
  '.md': 'text/plain; charset=utf-8',
};

/** A static file server for `root` on 127.0.0.1 and a free port, sending `headers` with every file (e.g. COOP/COEP for cross-origin isolation). */
export async function serve(root: string, headers: Record<string, string> = {}): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** Console errors and uncaught exceptions of a page (its workers included). */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && errors.push(`worker console.error: ${m.text()}`)));
  return errors;
}

/** Ticks exactly the methods in `ids` and sets the numeric fields. */
export async function configure(page: Page, ids: string[], fields: Record<string, string>): Promise<void> {
  for (const box of await page.locator('#methods input[type=checkbox]').all()) {
    const id = (await box.getAttribute('id'))?.replace(/^method-/, '') ?? '';
    await box.setChecked(ids.includes(id));
  }
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
}

/** Waits until the page's run ends; fails with the status line on an error. */
export async function waitForEnd(page: Page, timeout: number): Promise<string> {
  await page.waitForFunction(() => ['done', 'stopped', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout, polling: 250 });
  const state = (await page.getAttribute('body', 'data-state')) ?? '';
  if (state === 'error') throw new Error(`the page reported: ${await page.textContent('#status')}`);
  return state;
}

/** A number from a Vega mark's ARIA label (`name: 0.75; other: …`; percentages as written). */
export function field(label: string, name: string): number {
  const m = new RegExp(`(?:^|; )${name.replace(/[|()]/g, '\\$&')}: (-?[\\d.]+)`).exec(label);
  return m ? Number(m[1]) : Number.NaN;
}

/** The data of a Vega chart's marks, read from the ARIA labels Vega's SVG renderer writes on them. */
export async function markLabels(page: Page, chart: string, role: string): Promise<string[]> {
  return page.locator(`${chart} svg [aria-roledescription="${role}"]`).evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
}

/** Headless Chromium as the e2e tests launch it (playwright gives every launch a fresh, empty user-data-dir). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
