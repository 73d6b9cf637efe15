#!/usr/bin/env node
// Writes a large synthetic results.db through the store API (one transaction), for timing the query
// commands (top, pareto, fit, leaderboard) at scale:
//   npx tsc -p tsconfig.json && node bench/scale/make-db.mjs /tmp/scale-100k.db [--experiments 100000]
// Rows: 24 models in 3 families × 5 quants × 8 batches × 3 input × 3 output lengths, cycled; 92% ok,
// the rest failed/aborted/interrupted; 3% simulated; 2% manual; BPB per (model, quant) with 1% of ok
// rows missing it. SCI is computed with the run's own computeSci (DGX Spark profile, US-NE-ISNE). No
// samples or requests are written: the analysis commands must not need them.
import { existsSync, rmSync } from 'node:fs';
import { openStore } from '../../dist/store/index.js';
import { SECONDS_PER_YEAR, computeSci } from '../../dist/carbon/sci.js';

const args = process.argv.slice(2);
const path = args.find((a) => !a.startsWith('--')) ?? '/tmp/scale-100k.db';
const nIndex = args.indexOf('--experiments');
const n = nIndex >= 0 ? Number(args[nIndex + 1]) : 100_000;

// Deterministic PRNG (mulberry32) so the db is the same every time.
let seed = 12345;
function rand() {
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const families = {
  'qwen2.5': [0.49e9, 1.54e9, 3.09e9, 7.61e9, 14.7e9, 32.5e9, 72.7e9, 0.5e9],
  qwen3: [0.6e9, 1.7e9, 4.0e9, 8.19e9, 14.8e9, 32.8e9, 30e9, 235e9],
  llama: [1.24e9, 3.21e9, 8.03e9, 70.6e9, 1e9, 11e9, 90e9, 405e9],
};
const models = Object.entries(families).flatMap(([family, sizes]) =>
  sizes.map((params, i) => ({ id: `bench/${family}-${i}-${(params / 1e9).toFixed(2)}b`, params, family })),
);
const quants = ['bf16', 'fp8', 'awq', 'gptq', 'int8'];
const batches = [1, 2, 4, 8, 16, 32, 64, 128];
const inputLens = [128, 512, 2048];
const outputLens = [128, 256, 512];
const bpbOf = new Map(models.flatMap((m) => quants.map((q, qi) => [`${m.id}|${q}`, 0.9 - 0.02 * Math.log(m.params / 1e9) + 0.01 * qi])));

if (existsSync(path)) for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
const store = await openStore(path);
const t0 = performance.now();
const runId = await store.createRun({ programText: '# scale bench', programHash: 'bench', toolVersion: 'bench', hardware: 'dgx-spark' });
const te = 200_000;
const lifetimeS = 5 * SECONDS_PER_YEAR;
await store.transaction(async (tx) => {
  for (let i = 0; i < n; i++) {
    const m = models[i % models.length];
    const quant = quants[Math.floor(i / models.length) % quants.length];
    const batch = batches[Math.floor(rand() * batches.length)];
    const inputLen = inputLens[Math.floor(rand() * inputLens.length)];
    const outputLen = outputLens[Math.floor(rand() * outputLens.length)];
    const r = rand();
    const status = r < 0.92 ? 'ok' : r < 0.97 ? 'failed' : r < 0.99 ? 'aborted_thermal' : 'interrupted';
    const simulated = rand() < 0.03;
    const phase = rand() < 0.02 ? 'manual' : ['grid', 'random', 'bayesian'][i % 3];
    const row = {
      runId, engine: simulated ? 'sim' : 'vllm', model: m.id, params: m.params, quant, batch, inputLen, outputLen,
      config: { engine: simulated ? 'sim' : 'vllm', model: m.id, params: m.params, family: m.family, quant, batch, input_len: inputLen, output_len: outputLen },
      phase, status, simulated,
    };
    if (status === 'ok') {
      const windowS = 10 + rand() * 50;
      const tokS = (batch * 2e10) / m.params * (0.6 + 0.8 * rand()) * (1 + 0.1 * quants.indexOf(quant));
      const tokensOut = Math.max(1, Math.round(tokS * windowS));
      const powerW = 40 + 50 * Math.min(1, batch / 64) * (0.8 + 0.4 * rand());
      const energyJ = powerW * windowS;
      const sci = computeSci({ energyJ, tokensOut, intensityGPerKwh: 210, embodiedTotalG: te, lifetimeS, windowS, gpusUsed: 1, gpusTotal: 1 });
      Object.assign(row, {
        windowS, tokensOut, tokS: tokensOut / windowS, requests: Math.ceil(tokensOut / outputLen), energyJ, energySource: simulated ? 'sim' : 'nvml',
        avgPowerW: powerW, bpb: rand() < 0.01 ? null : bpbOf.get(`${m.id}|${quant}`), region: 'US-NE-ISNE', intensityGKwh: 210,
        embodiedG: sci.embodiedG, hardwareId: 'dgx-spark', hardwareFallback: false, gpusUsed: 1,
        sciOpUg: sci.sciOpUg, sciEmbUg: sci.sciEmbUg, sciUg: sci.sciUg,
        provenance: { embodied_g: `dgx-spark: carbon.hardware = dgx-spark; TE 200 kg over 5 y, 1/1 GPUs`, intensity_g_kwh: 'bench' },
      });
    } else {
      row.error = 'synthetic failure';
    }
    await tx.insertExperiment(row);
  }
});
await store.close();
console.log(`${path}: ${n} experiments, ${models.length} models, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
