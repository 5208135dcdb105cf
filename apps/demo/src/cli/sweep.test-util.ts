// Helpers of the sweep end-to-end tests: a tiny sweep, and its outputs without what the clock decides.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** 4 cells (plain and EWC-MAS × 2 seeds) of a second or two each on the cpu backend. */
export const TINY_SWEEP = [
  '--backend',
  'cpu',
  '--dataset',
  'embedded',
  '--tasks',
  '2',
  '--model',
  '784-16-10',
  '--methods',
  'plain,ewc-mas',
  '--lambda',
  '1',
  '--iterations',
  '10',
  '--train-limit',
  '300',
  '--eval-limit',
  '100',
  '--importance-samples',
  '100',
  '--seeds',
  '0,1',
];

interface Results {
  runs: { index: number; seconds: number; timings: Record<string, number>[]; accuracy: number[][]; finalAverage: number }[];
  config: unknown;
  tasks: string[];
  backend: string;
}

/** results.json without what the clock decides (seconds, per-task milliseconds). */
export async function timelessResults(out: string): Promise<Omit<Results, 'runs'> & { runs: unknown[] }> {
  const r = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as Results;
  return {
    config: r.config,
    tasks: r.tasks,
    backend: r.backend,
    runs: r.runs.map((run) => ({ ...run, seconds: 0, timings: run.timings.map((t) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, k.endsWith('Ms') ? 0 : v]))) })),
  };
}

/** report.md without the command line, the wall time and the per-run timing table. */
export async function timelessReport(out: string): Promise<string> {
  return (await readFile(join(out, 'report.md'), 'utf8'))
    .split('\n')
    .filter((l) => !l.startsWith('Command: ') && !/^\| .* \| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| \d+ \| [\d.]+ \|$/.test(l))
    .map((l) => l.replace(/; \d+ s\.$/, '; N s.'))
    .join('\n');
}

export async function svgs(out: string): Promise<Record<string, string>> {
  const files = (await readdir(out)).filter((f) => f.endsWith('.svg')).sort();
  return Object.fromEntries(await Promise.all(files.map(async (f) => [f, await readFile(join(out, f), 'utf8')] as const)));
}
