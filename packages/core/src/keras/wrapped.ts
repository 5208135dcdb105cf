/**
 * Models shipped inside JavaScript files. Some npm packages carry their Keras-converted model as
 * scripts instead of model.json + .bin files: nsfwjs's `model.min.js` is a browserify UMD bundle whose
 * module is `module.exports = {modelTopology: …, weightsManifest: …}`, and each shard
 * `group1-shard1of1.min.js` exports the shard's bytes as one base64 string. Other packages write the
 * same as CommonJS (`module.exports = …`, `exports.model = …`) or as an ES module (`export default …`,
 * `export const model = …`).
 *
 * These are read WITHOUT running them: the text is parsed with acorn, and only a value written as a
 * literal (objects, arrays, strings, numbers, `true`/`false`/`null`, and the minifiers' `!0`, `!1`,
 * `void 0`, `.5`, `1e-3`) is taken from what the script exports. A script that computes its model
 * (`module.exports = build()`) is refused, naming the file.
 */
import { type Node, parse } from 'acorn';

/** Thrown inside `literal` when a node is not a literal value. */
class NotLiteral extends Error {}

type AnyNode = Node & Record<string, unknown>;

/** The shard files tried, in order, for a manifest path `p` whose own file is missing: `p.min.js`, `p.js`. */
export const wrappedShardNames = (p: string): string[] => [`${p}.min.js`, `${p}.js`];

/** The model files tried, in order, in a folder without model.json. */
export const WRAPPED_MODEL_NAMES = ['model.min.js', 'model.js'] as const;

/** Whether a model.json's text is a script rather than JSON (its first non-blank character is not `{`). */
export function isScriptText(text: string): boolean {
  const first = /\S/.exec(text)?.[0];
  return first !== undefined && first !== '{' && first !== '[';
}

function parseScript(text: string, source: string): AnyNode {
  const parseAs = (sourceType: 'script' | 'module') =>
    parse(text, { ecmaVersion: 'latest', sourceType, allowHashBang: true, allowReturnOutsideFunction: true }) as unknown as AnyNode;
  try {
    return parseAs('script');
  } catch {
    // `export …` parses only as a module
    try {
      return parseAs('module');
    } catch (e) {
      throw new Error(`${source}: neither JSON nor a JavaScript file forgetless can read (${(e as Error).message})`);
    }
  }
}

/** The value of a literal node; throws NotLiteral for anything that would need running. */
function literal(node: AnyNode): unknown {
  switch (node.type) {
    case 'Literal': {
      const v = node.value;
      if (node.regex !== undefined || node.bigint !== undefined) throw new NotLiteral();
      return v;
    }
    case 'TemplateLiteral': {
      const quasis = node.quasis as AnyNode[];
      if ((node.expressions as unknown[]).length > 0) throw new NotLiteral();
      return quasis.map((q) => (q.value as { cooked: string }).cooked).join('');
    }
    case 'ArrayExpression':
      return (node.elements as (AnyNode | null)[]).map((el) => {
        if (el === null || el.type === 'SpreadElement') throw new NotLiteral();
        return literal(el);
      });
    case 'ObjectExpression': {
      const out: Record<string, unknown> = {};
      for (const p of node.properties as AnyNode[]) {
        if (p.type !== 'Property' || p.kind !== 'init' || p.method || p.shorthand) throw new NotLiteral();
        const key = p.key as AnyNode;
        let name: unknown;
        if (!p.computed && key.type === 'Identifier') name = key.name;
        else if (key.type === 'Literal' && (typeof key.value === 'string' || typeof key.value === 'number')) name = String(key.value);
        else throw new NotLiteral();
        const value = literal(p.value as AnyNode);
        // a key named __proto__ is data here, never the object's prototype
        if (value !== undefined) Object.defineProperty(out, name as string, { value, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    case 'UnaryExpression': {
      const arg = node.argument as AnyNode;
      if (node.operator === 'void' && arg.type === 'Literal' && arg.value === 0) return undefined;
      const v = literal(arg);
      if (typeof v !== 'number') throw new NotLiteral();
      if (node.operator === '-') return -v;
      if (node.operator === '+') return v;
      if (node.operator === '!') return !v;
      throw new NotLiteral();
    }
    case 'Identifier':
      if (node.name === 'undefined') return undefined;
      if (node.name === 'Infinity') return Number.POSITIVE_INFINITY;
      if (node.name === 'NaN') return Number.NaN;
      throw new NotLiteral();
    case 'ParenthesizedExpression':
      return literal(node.expression as AnyNode);
    default:
      throw new NotLiteral();
  }
}

const isNode = (x: unknown): x is AnyNode => typeof x === 'object' && x !== null && typeof (x as { type?: unknown }).type === 'string';

/** Whether `node` (the left side of an assignment) is `module.exports`, `x.exports` or `exports.name`. */
function isExportsTarget(node: AnyNode): boolean {
  if (node.type !== 'MemberExpression') return false;
  const prop = node.property as AnyNode;
  const obj = node.object as AnyNode;
  if (!node.computed && prop.type === 'Identifier' && prop.name === 'exports') return true;
  return obj.type === 'Identifier' && obj.name === 'exports';
}

/** The expressions a script exports, in source order: `….exports = e`, `exports.x = e`, `export default e`, `export const x = e`. */
function exportedExpressions(ast: AnyNode): AnyNode[] {
  const out: AnyNode[] = [];
  const stack: AnyNode[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop() as AnyNode;
    if (node.type === 'AssignmentExpression' && node.operator === '=' && isExportsTarget(node.left as AnyNode)) out.push(node.right as AnyNode);
    else if (node.type === 'ExportDefaultDeclaration') out.push(node.declaration as AnyNode);
    else if (node.type === 'ExportNamedDeclaration' && isNode(node.declaration) && node.declaration.type === 'VariableDeclaration') {
      for (const d of node.declaration.declarations as AnyNode[]) if (isNode(d.init)) out.push(d.init);
    }
    // children, pushed in reverse so that the walk meets them in source order
    const kids: AnyNode[] = [];
    for (const [k, v] of Object.entries(node)) {
      if (k === 'type' || k === 'start' || k === 'end' || k === 'loc') continue;
      if (Array.isArray(v)) for (const c of v) isNode(c) && kids.push(c);
      else if (isNode(v)) kids.push(v);
    }
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i] as AnyNode);
  }
  return out;
}

/** The literal values a script exports (exports that are not literals are left out). */
function exportedLiterals(text: string, source: string): { values: unknown[]; exports: number } {
  const exprs = exportedExpressions(parseScript(text, source));
  const values: unknown[] = [];
  for (const e of exprs) {
    try {
      values.push(literal(e));
    } catch (err) {
      if (!(err instanceof NotLiteral)) throw err;
    }
  }
  return { values, exports: exprs.length };
}

const isModelObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && ('modelTopology' in v || 'weightsManifest' in v);

/**
 * The model.json object a script exports as a literal (a UMD / CommonJS / ES module file such as
 * nsfwjs's `model.min.js`), read without running the script. Errors name `source`.
 */
export function modelJsonFromScript(text: string, source: string): Record<string, unknown> {
  const { values, exports } = exportedLiterals(text, source);
  const model = values.find(isModelObject);
  if (model) return model;
  throw new Error(
    exports === 0
      ? `${source}: a JavaScript file that exports nothing forgetless can find (it reads files that export the model.json object as a literal: module.exports = {…}, export default {…})`
      : `${source}: a JavaScript file whose exports hold no model.json object written as a literal (one with 'modelTopology' and 'weightsManifest'); forgetless does not run model files`,
  );
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Bytes of a base64 string (standard alphabet, padding optional); errors name `source`. */
function base64Bytes(s: string, source: string): Uint8Array<ArrayBuffer> {
  const clean = s.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '');
  if (!BASE64.test(clean) || clean.length % 4 === 1) throw new Error(`${source}: the exported string is not base64 shard data`);
  const bin = atob(clean.length % 4 === 0 ? clean : clean + '='.repeat(4 - (clean.length % 4)));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * A weight shard a script exports as a literal: a base64 string (nsfwjs's `group1-shard1of1.min.js`)
 * or an array of byte values, read without running the script. Errors name `source`.
 */
export function shardBytesFromScript(text: string, source: string): Uint8Array<ArrayBuffer> {
  const { values } = exportedLiterals(text, source);
  for (const v of values) {
    if (typeof v === 'string') return base64Bytes(v, source);
    if (Array.isArray(v) && v.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) < 256)) return Uint8Array.from(v as number[]);
  }
  throw new Error(
    `${source}: a JavaScript file whose exports hold no weight data written as a literal (a base64 string or an array of bytes); forgetless does not run model files`,
  );
}
