/** report.md of the pruning preset: measured test accuracy beside paper 2's, per importance and sparsity. */
import { PRUNING_GLOBAL, PRUNING_LAYER, type PruningResult } from '@forgetless/experiments';

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');

export function pruningMarkdown(
  r: PruningResult,
  ctx: { title: string; paper: string; protocol: string; data: string; command?: string; backend: string; seconds: number },
): string {
  const c = r.config;
  const head = ['importance', ...PRUNING_GLOBAL.map((s) => `global ${Math.round(s * 100)} %`), ...PRUNING_LAYER.map((s) => `per layer ${Math.round(s * 100)} %`)];
  const lines = [
    `# forgetless: ${ctx.title}`,
    '',
    ...(ctx.command ? [`Command: \`${ctx.command}\``, ''] : []),
    `Protocol of the paper (arXiv ${ctx.paper}): ${ctx.protocol}`,
    '',
    `Here: task ${r.task} (${r.trainSize} training examples) from ${ctx.data}; model \`${c.model}\`, ${c.optimizer} lr ${c.learningRate}, ${c.epochs} epoch(s), batch ${c.batchSize}, seed ${c.seed}; ` +
      `importances on the first ${Math.min(c.calibration, r.trainSize)} training examples (SI: tracked during training)${c.evalLimit ? `; accuracy on the first ${c.evalLimit} test examples` : ''}; backend ${ctx.backend}; ` +
      `${ctx.seconds.toFixed(0)} s (training ${r.seconds.train.toFixed(0)} s, pruning ${r.seconds.prune.toFixed(0)} s).`,
    '',
    `Unpruned test accuracy ${f3(r.unpruned)}. Cells: measured test accuracy after zeroing the least important weights, biases ranked with them (paper 2, MNIST, in brackets).`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i ? '---:' : '---')).join(' | ')} |`,
  ];
  for (const method of [...new Set(r.rows.map((x) => x.method))]) {
    const cell = (scope: 'global' | 'layer', s: number) => {
      const x = r.rows.find((y) => y.method === method && y.scope === scope && y.sparsity === s);
      return x ? `${f3(x.accuracy)}${x.paper !== undefined ? ` (${f3(x.paper)})` : ''}` : '';
    };
    lines.push(`| ${method.replace(/\|/g, '\\|')} | ${[...PRUNING_GLOBAL.map((s) => cell('global', s)), ...PRUNING_LAYER.map((s) => cell('layer', s))].join(' | ')} |`);
  }
  lines.push(
    '',
    'Compare the ordering of the importances and the shape of the curves, not the digits: the paper measured MNIST.',
    '',
    '![accuracy against sparsity](pruning.svg)',
    '',
  );
  return lines.join('\n');
}
