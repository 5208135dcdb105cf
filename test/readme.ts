// The README examples the tests check: each package README's opening install line and its first
// TypeScript code block, plus any TypeScript block right after a `<!-- readme-test -->` line (checked
// and run) or a `<!-- readme-test: typecheck -->` line (checked only: it needs files of the user's),
// and the rewrites that turn an example into a CommonJS program or a browser bundle's entry.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

export const PACKAGES = ['core', 'datasets', 'experiments', 'importances', 'loggers', 'optimizers', 'pruning', 'regularizers', 'replay'] as const;
export type PackageDir = (typeof PACKAGES)[number];

export interface Readme {
  dir: PackageDir;
  name: string;
  /** The packages `npm install` names in the README's first code block. */
  install: string[];
  /** The README's first code block: its language and text. */
  first: { lang: string; code: string };
  examples: { code: string; line: number; run: boolean }[];
}

interface Block {
  lang: string;
  code: string;
  line: number;
  marked: 'run' | 'typecheck' | undefined;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)/.exec(lines[i] as string);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
    const before = (
      lines
        .slice(0, start)
        .reverse()
        .find((l) => l.trim() !== '') ?? ''
    ).trim();
    const marked = before === '<!-- readme-test -->' ? 'run' : before === '<!-- readme-test: typecheck -->' ? 'typecheck' : undefined;
    out.push({ lang: open[1] ?? '', code: `${body.join('\n')}\n`, line: start + 2, marked });
  }
  return out;
}

export function readReadme(root: string, dir: PackageDir): Readme {
  const markdown = readFileSync(join(root, 'packages', dir, 'README.md'), 'utf8');
  const name = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')).name as string;
  const all = blocks(markdown);
  const first = all[0] ?? { lang: '', code: '', line: 0, marked: undefined };
  const install = /npm install ([^\n]+)/.exec(first.code)?.[1]?.trim().split(/\s+/) ?? [];
  const isTs = (b: Block) => b.lang === 'ts' || b.lang === 'typescript';
  const firstTs = all.find(isTs);
  const examples = all.filter((b) => b === firstTs || (b.marked && isTs(b))).map(({ code, line, marked }) => ({ code, line, run: marked !== 'typecheck' }));
  return { dir, name, install, first: { lang: first.lang, code: first.code }, examples };
}

/** The bare package names an example imports (`@scope/name` or `name`, subpaths dropped). */
export function importedPackages(code: string): string[] {
  const names = new Set<string>();
  for (const { spec } of splitImports(code).imports) {
    if (spec.startsWith('.') || spec.startsWith('node:')) continue;
    const parts = spec.split('/');
    names.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string));
  }
  return [...names];
}

/** The example's top-level import declarations, and the rest of it. */
export function splitImports(code: string): { imports: { text: string; spec: string }[]; body: string } {
  const file = ts.createSourceFile('example.ts', code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const imports: { text: string; spec: string }[] = [];
  let body = '';
  let last = 0;
  for (const st of file.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      imports.push({ text: st.getFullText(file).trim(), spec: st.moduleSpecifier.text });
      body += code.slice(last, st.getFullStart());
      last = st.getEnd();
    }
  }
  body += code.slice(last);
  return { imports, body: body.replace(/^\s*\n/, '') };
}

/**
 * The example as a program without top-level await: its imports, then its body in an async main,
 * then `onDone` (code that sees `error`, undefined on success).
 */
export function wrapMain(code: string, onDone: string): string {
  const { imports, body } = splitImports(code);
  return `${imports.map((i) => i.text).join('\n')}

async function main(): Promise<void> {
${body.replace(/^/gm, '  ').replace(/^\s+$/gm, '')}
}
main().then(
  () => { const error: unknown = undefined; ${onDone} },
  (error: unknown) => { ${onDone} },
);
`;
}

/** `wrapMain`'s ending for Node: a failure is printed and exits 1. */
export const NODE_DONE = `if (error !== undefined) { console.error(error); process.exitCode = 1; }`;
