// Running the built CLI (`node dist/cli.js`, which turbo builds before tests) as a child process,
// as a user runs it: for the end-to-end tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
}

export function checkBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx turbo run build --filter=@forgetless/cli...)`);
}

/** Starts `forgetless <args>` in `cwd`; FORGETLESS_DEBUG is cleared, `env` added. */
export function startCli(args: readonly string[], cwd: string, env: Record<string, string | undefined> = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, FORGETLESS_DEBUG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** What a started CLI printed, once it exits. */
export function finished(child: ChildProcess, t0 = performance.now()): Promise<CliResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 }));
  });
}

export function runCli(args: readonly string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const t0 = performance.now();
  return finished(startCli(args, cwd, env), t0);
}

/** Resolves once `test()` holds (polled every 5 ms); rejects after `timeoutMs` or when `child` exits first. */
export function waitFor(test: () => boolean, child: ChildProcess, what: string, timeoutMs = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (test()) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - t0 > timeoutMs || child.exitCode !== null) {
        clearInterval(poll);
        reject(new Error(`${what} did not happen`));
      }
    }, 5);
  });
}

/** A run of a few seconds on the cpu backend (embedded data, a small MLP). */
export function tinyRun(out: string, extra: readonly string[] = []): string[] {
  return [
    'run',
    '--backend',
    'cpu',
    '--dataset',
    'embedded',
    '--tasks',
    '2',
    '--model',
    '784-16-10',
    '--methods',
    'plain',
    '--iterations',
    '5',
    '--train-limit',
    '500',
    '--eval-limit',
    '100',
    '--seeds',
    '0',
    '--out',
    out,
    '--quiet',
    ...extra,
  ];
}
