/** Markdown tables and the output folder of a benchmark run. */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';

export function markdownTable(rows: Array<Record<string, string | number>>, columns?: string[]): string {
  if (rows.length === 0) return '_no rows_\n';
  const cols = columns ?? Object.keys(rows[0] as object);
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toPrecision(3)) : String(v ?? ''));
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
