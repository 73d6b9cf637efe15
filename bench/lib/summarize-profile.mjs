#!/usr/bin/env node
// Summarizes a V8 CPU profile (node --cpu-prof) as the top functions by self time, and self time by
// file (node internals, node_modules and this project's dist/ grouped).
//   node bench/lib/summarize-profile.mjs PROFILE.cpuprofile [--top 25] [--json]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './common.mjs';

/** { functions: [{name, where, selfMs, pct}], files: [{file, selfMs, pct}], totalMs } */
export function summarizeProfile(profile, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const deltas = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0));
  }
  const fns = new Map();
  const files = new Map();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    const cf = n.callFrame;
    let file = cf.url || '(native)';
    if (file.startsWith('file://')) file = relative(repoRoot, fileURLToPath(file));
    else if (file.startsWith('node:')) file = 'node internals';
    const name = cf.functionName || '(anonymous)';
    const key = `${name} ${file}:${cf.lineNumber + 1}`;
    const where = `${file}:${cf.lineNumber + 1}`;
    const f = fns.get(key) ?? { name, where, selfUs: 0 };
    f.selfUs += us;
    fns.set(key, f);
    const group = file.includes('node_modules/') ? file.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, 'node_modules/$1') : file;
    files.set(group, (files.get(group) ?? 0) + us);
    totalUs += us;
  }
  const pct = (us) => Math.round((1000 * us) / totalUs) / 10;
  return {
    totalMs: Math.round(totalUs / 1000),
    functions: [...fns.values()].sort((a, b) => b.selfUs - a.selfUs).slice(0, top).map((f) => ({ name: f.name, where: f.where, selfMs: Math.round(f.selfUs / 1000), pct: pct(f.selfUs) })),
    files: [...files.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([file, us]) => ({ file, selfMs: Math.round(us / 1000), pct: pct(us) })),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/lib/summarize-profile.mjs PROFILE.cpuprofile [--top N] [--json]\n');
    process.exit(2);
  }
  const topArg = process.argv.indexOf('--top');
  const top = topArg > 0 ? Number(process.argv[topArg + 1]) : 25;
  const s = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), top);
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  else {
    process.stdout.write(`total sampled: ${s.totalMs} ms\nself time by function:\n`);
    for (const f of s.functions) process.stdout.write(`  ${String(f.pct).padStart(5)}%  ${String(f.selfMs).padStart(6)} ms  ${f.name}  (${f.where})\n`);
    process.stdout.write('self time by file:\n');
    for (const f of s.files) process.stdout.write(`  ${String(f.pct).padStart(5)}%  ${String(f.selfMs).padStart(6)} ms  ${f.file}\n`);
  }
}
