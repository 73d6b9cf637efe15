#!/usr/bin/env node
// Measures how well the 1 Hz trapezoid of nvidia-smi power matches NVML's energy counter on the real
// recorded traces in ../shared/fixtures/h200 (copied to tests/fixtures/h200), for power.draw with and
// without the half-second alignment and for power.draw.instant.
//   npm run build && node bench/energy-alignment.mjs [--json]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseTrace } from '../dist/telemetry/smi-parse.js';
import { toPowerPoints, integratePower } from '../dist/energy/integrate.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'tests', 'fixtures', 'h200');
const json = process.argv.includes('--json');

// Deterministic PRNG (mulberry32) so the recorded numbers are reproducible.
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function counterAt(rows, t) {
  let lo = 0, hi = rows.length - 1;
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (rows[mid].t <= t) lo = mid; else hi = mid; }
  const a = rows[lo], b = rows[hi];
  return a.mj + ((b.mj - a.mj) * (t - a.t)) / (b.t - a.t);
}

function pct(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

const smi = parseTrace(readFileSync(join(fixtures, 'h100-varying-load-smi-1hz.csv'), 'utf8'), {
  fields: ['timestamp', 'power.draw', 'power.draw.instant'], tz: 'UTC', source: 'h100-varying-load-smi-1hz.csv',
});
const nvml = readFileSync(join(fixtures, 'h100-varying-load-nvml.csv'), 'utf8').trim().split('\n').slice(1)
  .map((l) => { const [t, mj] = l.split(','); return { t: Number(t), mj: Number(mj) }; });

const variants = {
  'power.draw': toPowerPoints(smi.samples, 0),
  'power.draw aligned -0.5 s': toPowerPoints(smi.samples, 0.5),
  'power.draw.instant': toPowerPoints(smi.samples.map((s) => ({ tS: s.tS, powerW: s.powerInstantW })), 0),
};

const result = { varying_load_h100: {}, gen_results_h200: {} };
for (const lengthS of [2, 5, 10, 20]) {
  const rand = rng(42 + lengthS);
  const lo = Math.max(nvml[0].t, smi.samples[0].tS) + 1;
  const hi = Math.min(nvml.at(-1).t, smi.samples.at(-1).tS - 0.5) - lengthS - 1;
  const errors = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let i = 0; i < 300; i++) {
    const from = lo + rand() * (hi - lo);
    const to = from + lengthS;
    const truthJ = (counterAt(nvml, to) - counterAt(nvml, from)) / 1000;
    for (const [name, points] of Object.entries(variants)) {
      const { energyJ } = integratePower(points, from, to);
      errors[name].push(Math.abs(energyJ - truthJ) / truthJ);
    }
  }
  result.varying_load_h100[`${lengthS}s`] = Object.fromEntries(
    Object.entries(errors).map(([name, e]) => [name, { p95_err_pct: +(100 * pct(e, 0.95)).toFixed(3), mean_err_pct: +(100 * e.reduce((a, b) => a + b, 0) / e.length).toFixed(3) }]),
  );
}

const gen = parseTrace(readFileSync(join(fixtures, 'gen-smi-1hz.csv'), 'utf8'), {
  fields: ['timestamp', 'power.draw', 'power.draw.instant', 'temperature.gpu', 'clocks.sm', 'utilization.gpu', 'memory.used', 'clocks_event_reasons.active'],
  tz: 'UTC', source: 'gen-smi-1hz.csv',
});
const genVariants = {
  'power.draw': toPowerPoints(gen.samples, 0),
  'power.draw aligned -0.5 s': toPowerPoints(gen.samples, 0.5),
  'power.draw.instant': toPowerPoints(gen.samples.map((s) => ({ tS: s.tS, powerW: s.powerInstantW })), 0),
};
for (const w of JSON.parse(readFileSync(join(fixtures, 'gen-results.json'), 'utf8'))) {
  const row = {};
  for (const [name, points] of Object.entries(genVariants)) {
    try {
      const { energyJ } = integratePower(points, w.t0, w.t1);
      row[name] = { err_pct: +(100 * (energyJ - w.joules) / w.joules).toFixed(3) };
    } catch (err) {
      row[name] = { error: err.message.slice(0, 90) };
    }
  }
  result.gen_results_h200[`batch ${w.batch}`] = row;
}

if (json) console.log(JSON.stringify(result, null, 2));
else {
  for (const [section, rows] of Object.entries(result)) {
    console.log(`\n${section}`);
    for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(10)} ${Object.entries(v).map(([n, r]) => `${n}: ${JSON.stringify(r)}`).join(' | ')}`);
  }
}
