/**
 * Vega-Lite specs to SVG strings, headless in Node: vega-lite compiles the spec to Vega, a Vega
 * View with no renderer lays it out, and `toSVG()` serialises the scenegraph (no canvas needed;
 * text widths are estimated).
 */
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { ChartSpec } from '@forgetless/experiments';

export async function renderSvg(spec: ChartSpec): Promise<string> {
  const compiled = compile(spec as unknown as Parameters<typeof compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A file-name-safe form of a variant label: `wva-sig:exp:steps@adam` → `wva-sig-exp-steps-adam`. */
export function slug(label: string): string {
  return label
    .replace(/[^a-zA-Z0-9.-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
}
