// Medians over alternated runs of step-kernels.mjs (its --compare columns, in the current folder: sk2-ALPHA-{old,new}-R.json):
// the old build's and the new build's median per kernel group, and their ratio.
//   node step-kernels-median.mjs a035|a1 RUNS
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
const [alpha, n] = process.argv.slice(2);
const files = [];
for (let r = 1; r <= Number(n); r++) for (const v of ['old', 'new']) files.push(`sk2-${alpha}-${v}-${r}.json`);
const out = execFileSync('node', [fileURLToPath(new URL('../../scripts/step-kernels.mjs', import.meta.url)), '--compare', ...files], { encoding: 'utf8' });
const med = (a) => {
  const s = [...a].sort((p, q) => p - q);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`| kernel group (${alpha === 'a1' ? 'α 1.0' : 'α 0.35'}, batch 8) | before: median (min–max) of ${n} | after | after / before |`);
console.log('| --- | --- | --- | --- |');
for (const line of out.split('\n').slice(2)) {
  const c = line.split('|').map((s) => s.trim());
  if (c.length < 5) continue;
  const vals = c.slice(4, 4 + files.length).map((s) => Number.parseFloat(s));
  const o = vals.filter((_, i) => i % 2 === 0),
    w = vals.filter((_, i) => i % 2 === 1);
  if (o.some(Number.isNaN)) continue;
  const f = (a) => `${med(a).toFixed(2)} (${Math.min(...a).toFixed(1)}–${Math.max(...a).toFixed(1)})`;
  console.log(`| ${c[1]} | ${f(o)} | ${f(w)} | ${(med(w) / med(o)).toFixed(3)} |`);
}
