#!/usr/bin/env node
// Runs every benchmark of bench/ in turn, each as its own process with --json, and prints one summary
// (or, with --json, one JSON document: { machine, benchmarks: { name: result | {error} } }).
//   npm run build && node bench/run-all.mjs [--json] [--only client,telemetry,experiments-per-hour,scale,energy-alignment]
// About 5 minutes on the 2-core dev machine (the first scale run writes a 1.3 GB db: about 1 more).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureBuilt, machine, parseArgs, progress, repoRoot, report } from './lib/common.mjs';

const BENCHMARKS = {
  client: { script: 'bench/client.mjs', summary: (r) => `${r.tokens_per_main_thread_cpu_s} tokens per CPU-second of the parsing thread, ${r.tokens_per_cpu_s} of the whole client (lowest of c=1/64/256; target ≥ 50,000 on one core: ${r.targets.tokens_per_main_thread_cpu_s.met ? 'met' : 'MISSED'}); ITL error p99 ${r.itl_error_ms_p99} ms flat out, ${r.itl_error_ms_p99_at_rate} ms at ${r.targets.itl_error_ms_p99_at_rate.rate_tokens_per_s} tokens/s (target ≤ 1 ms: ${r.targets.itl_error_ms_p99_at_rate.met ? 'met' : 'MISSED'}; idle event-loop delay p99 here ${r.idle_control.event_loop_delay_ms_p99} ms)` },
  telemetry: { script: 'bench/telemetry.mjs', summary: (r) => `sampler + poller ${(r.cpu_core_fraction_together * 100).toFixed(3)}% of a core on the fakes (target < 1%: ${r.targets.under_1pct_of_a_core_fake.met ? 'met' : 'MISSED'}); real H100 before the fix ${(r.real_h100.process_cpu_core_fraction_measured * 100).toFixed(2)}% (${r.targets.under_1pct_of_a_core_real_h100.met ? 'met' : 'MISSED'})` },
  'experiments-per-hour': { script: 'bench/experiments-per-hour.mjs', summary: (r) => `${r.carbonbench_experiments_per_hour}/h within ±3% vs the reference study's ${r.reference_study_experiments_per_hour}/h = ${r.ratio}× (target ≥ 3×: ${r.target.met ? 'met' : 'MISSED'})` },
  scale: { script: 'bench/scale.mjs', summary: (r) => `${r.experiments} experiments + ${r.samples} samples = ${r.size_mib} MiB; ${r.commands.map((c) => (c.available ? `${c.command} ${c.in_process.first_ms ?? 'error'} ms (${c.met ? 'met' : 'MISSED'})` : `${c.command}: n/a`)).join(', ')}` },
  'energy-alignment': { script: 'bench/energy-alignment.mjs', summary: () => 'see its JSON (alignment of power.draw against the NVML counter)' },
};

const args = parseArgs({
  json: { type: 'boolean', default: false, help: 'one JSON document on stdout' },
  only: { type: 'string', default: Object.keys(BENCHMARKS).join(','), help: 'comma-separated benchmark names' },
});
ensureBuilt();
const names = args.only.split(',').map((s) => s.trim());
for (const n of names) {
  if (!BENCHMARKS[n]) {
    process.stderr.write(`unknown benchmark \`${n}\`; known: ${Object.keys(BENCHMARKS).join(', ')}\n`);
    process.exit(2);
  }
}

const results = {};
const lines = [];
for (const name of names) {
  const { script, summary } = BENCHMARKS[name];
  progress(`run-all: ${name}…`);
  const t = Date.now();
  const r = spawnSync(process.execPath, [join(repoRoot, script), '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 << 20 });
  const seconds = Math.round((Date.now() - t) / 1000);
  if (r.status !== 0) {
    results[name] = { error: `exit ${r.status}`, seconds };
    lines.push(`${name}: FAILED (exit ${r.status})`);
    continue;
  }
  try {
    results[name] = JSON.parse(r.stdout);
    lines.push(`${name} (${seconds} s): ${summary(results[name])}`);
  } catch (err) {
    results[name] = { error: `not JSON: ${err.message}`, seconds };
    lines.push(`${name}: FAILED (output is not JSON)`);
  }
}
report({ machine: machine(), benchmarks: results }, args.json, lines);
if (Object.values(results).some((r) => r.error)) process.exitCode = 1;
