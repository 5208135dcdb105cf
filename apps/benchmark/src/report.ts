/** Markdown tables and the output folder of a benchmark run. */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';

/** A markdown table of `rows`; the columns are every key of any row, in order of first appearance. */
export function markdownTable(rows: Array<Record<string, string | number>>, columns?: string[]): string {
  if (rows.length === 0) return '_no rows_\n';
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const fmt = (v: unknown) =>
    typeof v === 'number'
      ? Number.isInteger(v) || !Number.isFinite(v)
        ? String(v)
        : Math.abs(v) >= 100
          ? v.toFixed(0)
          : Math.abs(v) >= 1
            ? v.toFixed(2)
            : Math.abs(v) >= 1e-3
              ? v.toPrecision(3)
              : v.toExponential(2)
      : String(v ?? '').replace(/\|/g, '\\|');
  return [`| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`)].join('\n') + '\n';
}

export function machineLabel(): string {
  const cpu = cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'cpu';
  return `${cpus().length}x ${cpu}`;
}

/** out/<date>_<host>/ */
export async function outputFolder(base: string): Promise<string> {
  const date = new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-');
  const dir = join(base, `${date}_${hostname().replace(/[^A-Za-z0-9_-]/g, '') || 'host'}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

export async function writeJson(file: string, data: unknown): Promise<void> {
  await writeFile(file, `${JSON.stringify(data, null, 1)}\n`);
}
