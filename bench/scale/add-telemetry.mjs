#!/usr/bin/env node
// Completes a synthetic results.db written by bench/scale/make-db.mjs (experiment rows only) into what
// a real overnight history of that size holds: it fills the per-experiment fields a real run stores
// (timestamps, window edges, latency percentiles, both energy figures, the CI, temperatures, throttling,
// server key, rationale, full provenance — sizes like the H200 run in bench/gpu/results/h200-results.db)
// and adds the 1 Hz telemetry: --samples rows in all (default 10 million: 100 per experiment for 100,000
// experiments), evenly over the experiments, plus optional per-request rows.
//
// Speed: better-sqlite3 directly (not the async store API), one transaction, prepared statements that
// insert one experiment's samples per call (multi-row VALUES), the journal off while loading (a crash
// leaves a broken file: run it again) and WAL again at the end, as carbonbench opens it. Deterministic.
//
//   npm run build && node bench/scale/make-db.mjs DB && node bench/scale/add-telemetry.mjs DB
//     [--samples 10000000] [--requests-per-experiment 0] [--json]
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const argv = process.argv.slice(2);
const VALUE_OPTIONS = new Set(['--samples', '--requests-per-experiment']);
const path = argv.find((a, i) => !a.startsWith('--') && !VALUE_OPTIONS.has(argv[i - 1]));
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) {
    process.stderr.write(`Expected \`${name}\` to be a non-negative integer, got \`${argv[i + 1]}\`\n`);
    process.exit(2);
  }
  return v;
};
if (!path) {
  process.stderr.write('usage: node bench/scale/add-telemetry.mjs DB [--samples N] [--requests-per-experiment N] [--json]\n');
  process.exit(2);
}
const totalSamples = opt('--samples', 10_000_000);
const requestsPerExperiment = opt('--requests-per-experiment', 0);

// mulberry32: the same file every time.
let seed = 0x5ca1e;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const iso = (tS) => new Date(tS * 1000).toISOString();

const db = new Database(path, { fileMustExist: true });
const t0 = performance.now();
db.pragma('journal_mode = OFF');
db.pragma('synchronous = OFF');
db.pragma('cache_size = -262144'); // 256 MiB
db.pragma('temp_store = MEMORY');

const experiments = db.prepare('SELECT id, engine, model, quant, batch, input_len, output_len, phase, status, simulated, window_s, tokens_out, tok_s, energy_j, avg_power_w, requests FROM experiments ORDER BY id').all();
const n = experiments.length;
if (n === 0) throw new Error(`${path} holds no experiments: run bench/scale/make-db.mjs first`);
if (db.prepare('SELECT count(*) FROM samples').pluck().get() > 0) throw new Error(`${path} already has samples`);

const perExperiment = Math.floor(totalSamples / n);
const extra = totalSamples - perExperiment * n; // the first `extra` experiments get one more
const BASE_S = 1_795_000_000;
const SPACING_S = 400;

const update = db.prepare(`UPDATE experiments SET
  started_at = ?, ended_at = ?, cooldown_wait_s = ?, start_temp_c = ?, window_start_t_s = ?, window_end_t_s = ?,
  ttft_p50_ms = ?, ttft_p90_ms = ?, ttft_p99_ms = ?, itl_p50_ms = ?, itl_p90_ms = ?, itl_p99_ms = ?,
  e2e_p50_ms = ?, e2e_p90_ms = ?, e2e_p99_ms = ?, energy_nvml_j = ?, energy_smi_j = ?, energy_ci_rel = ?,
  energy_samples = ?, peak_power_w = ?, max_temp_c = ?, throttled = ?, throttle_reasons = ?, server_key = ?,
  rationale = ?, provenance = ? WHERE id = ?`);

const COLS = 14;
function insertStatement(rows) {
  const one = `(${new Array(COLS).fill('?').join(',')})`;
  return db.prepare(
    `INSERT INTO samples (experiment_id, source, t_s, gpu_index, power_w, power_instant_w, temp_c, mem_temp_c, sm_clock_mhz, mem_clock_mhz, fan_pct, util_pct, mem_used_mib, event_reasons) VALUES ${new Array(rows).fill(one).join(',')}`,
  );
}
const stmts = new Map();
const stmtFor = (rows) => {
  let s = stmts.get(rows);
  if (!s) stmts.set(rows, (s = insertStatement(rows)));
  return s;
};
const reqStmt = requestsPerExperiment > 0
  ? db.prepare('INSERT INTO requests (experiment_id, seq, in_window, start_t_s, end_t_s, success, error, input_tokens, output_tokens, ttft_ms, itl_mean_ms, itl_max_ms, e2e_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)')
  : null;

const PROVENANCE_TAIL = {
  energy_nvml_j: 'NVML counter delta over the same window',
  energy_smi_j: 'trapezoid of power.draw over the same window',
  intensity_g_kwh: 'Connecticut / ISO New England (reference study default): Default grid of the reference DGX Spark SCI study (~210 gCO2e/kWh); primary generation-based figure: row US-NE-NEWE',
  tokens_out: 'server usage data: output tokens that arrived inside the window',
  embodied_g: 'dgx-spark: carbon.hardware = dgx-spark; TE 200 kg over 5 y, 1/1 GPUs',
};

let samplesWritten = 0;
let requestsWritten = 0;
const load = db.transaction(() => {
  const values = [];
  for (let k = 0; k < n; k++) {
    const e = experiments[k];
    const count = perExperiment + (k < extra ? 1 : 0);
    const startS = BASE_S + e.id * SPACING_S;
    const ok = e.status === 'ok';
    const cooldownS = rand() * 30;
    const windowS = ok ? e.window_s : null;
    const windowStart = startS + cooldownS + 20 + rand() * 10;
    const windowEnd = ok ? windowStart + windowS : null;
    const endS = startS + Math.max(count, 30);
    const power = ok ? e.avg_power_w : 45;
    const startTemp = 38 + rand() * 10;
    const maxTemp = startTemp + (ok ? 5 + rand() * 25 : 2);
    const throttled = ok && rand() < 0.05;
    const decodeMs = ok ? (1000 * e.batch) / Math.max(1, e.tok_s) : null;
    const ciRel = ok ? 0.005 + rand() * 0.025 : null;
    const nvmlJ = ok ? e.energy_j : null;
    const provenance = JSON.stringify({
      cooldown: cooldownS < 29 ? 'cool' : 'timeout',
      energy_ci_rel: ok ? `ratio estimator over ${Math.round(windowS)} segments (95% t interval)` : undefined,
      energy_j: ok ? 'NVML total-energy counter delta over the window, GPU 0' : undefined,
      server: rand() < 0.8 ? `reused server (experiments/1/${e.id - 1}/engine.log)` : `started server (experiments/1/${e.id}/engine.log)`,
      ...PROVENANCE_TAIL,
    });
    update.run(
      iso(startS), iso(endS), cooldownS, Math.round(startTemp), ok ? windowStart : null, windowEnd,
      ok ? decodeMs * 3 : null, ok ? decodeMs * 4 : null, ok ? decodeMs * 6 : null,
      decodeMs, ok ? decodeMs * 1.1 : null, ok ? decodeMs * 1.5 : null,
      ok ? decodeMs * e.output_len : null, ok ? decodeMs * e.output_len * 1.1 : null, ok ? decodeMs * e.output_len * 1.3 : null,
      nvmlJ, ok ? nvmlJ * (1 + (rand() - 0.5) * 0.02) : null, ciRel, ok ? Math.round(windowS) : null,
      ok ? power * 1.08 : null, Math.round(maxTemp), ok ? (throttled ? 1 : 0) : null, throttled ? 'sw_power_cap' : null,
      JSON.stringify({ engine: e.engine, model: e.model, quant: e.quant, options: {} }),
      e.phase === 'bayesian' || e.phase === 'random'
        ? `${e.phase}: ${e.model} ${e.quant} batch ${e.batch} input ${e.input_len} output ${e.output_len} — the strategy's candidate, chosen to explore the region of the space with the lowest SCI so far under the BPB constraint`
        : null,
      provenance,
      e.id,
    );
    // 1 Hz samples over the experiment: idle, then loaded during the window.
    values.length = 0;
    const source = e.simulated ? 'sim' : 'nvidia-smi';
    for (let i = 0; i < count; i++) {
      const tS = startS + i + rand() * 0.01;
      const loaded = ok && tS >= windowStart - 3 && tS <= windowEnd;
      const p = loaded ? power * (0.97 + rand() * 0.06) : 40 + rand() * 5;
      const temp = Math.round(startTemp + (maxTemp - startTemp) * Math.min(1, i / Math.max(1, count)));
      values.push(
        e.id, source, tS, 0, Math.round(p * 100) / 100, Math.round(p * (0.9 + rand() * 0.2) * 100) / 100, temp, temp - 2,
        loaded ? 1980 : 345, 2619, null, loaded ? 90 + Math.floor(rand() * 10) : 0, loaded ? 60000 + Math.floor(rand() * 1000) : 512,
        loaded && throttled ? '0x0000000000000004' : '0x0000000000000001',
      );
    }
    // At most 1000 rows (14,000 parameters) per statement: SQLite allows 32,766.
    for (let from = 0; from < count; from += 1000) {
      const rows = Math.min(1000, count - from);
      stmtFor(rows).run(rows === count ? values : values.slice(from * COLS, (from + rows) * COLS));
    }
    samplesWritten += count;
    for (let r = 0; r < requestsPerExperiment; r++) {
      const st = startS + 25 + r * 0.5;
      const e2e = ok ? decodeMs * e.output_len : 1000;
      reqStmt.run(e.id, r, r >= 4 ? 1 : 0, st, st + e2e / 1000, ok ? 1 : 0, ok ? null : 'synthetic failure', e.input_len, ok ? e.output_len : null, ok ? decodeMs * 3 : null, decodeMs, ok ? decodeMs * 2 : null, e2e);
      requestsWritten++;
    }
  }
});
load();
const loadS = (performance.now() - t0) / 1000;
db.pragma('journal_mode = WAL');
db.pragma('wal_checkpoint(TRUNCATE)');
db.close();
const out = {
  db: path,
  experiments: n,
  samples: samplesWritten,
  requests: requestsWritten,
  seconds: Math.round(loadS * 10) / 10,
  samples_per_s: Math.round(samplesWritten / loadS),
  size_bytes: statSync(path).size,
};
if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(out)}\n`);
else process.stdout.write(`${path}: ${n} experiments completed, ${samplesWritten} samples and ${requestsWritten} requests written in ${out.seconds} s (${out.samples_per_s} samples/s); ${(out.size_bytes / 2 ** 20).toFixed(0)} MiB\n`);
