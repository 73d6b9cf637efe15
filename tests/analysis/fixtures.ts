/**
 * A small results.db written through the store API, with numbers chosen by hand so that every
 * expectation of tests/analysis and tests/cli/analysis.test.ts can be checked on paper.
 *
 * Every finished row is scored the way the runner scores (src/runner/experiment.ts): computeSci with
 * the DGX Spark profile (TE 200 kg over 5 years, 1 of 1 GPUs), region US-NE-ISNE (210 gCO2e/kWh), a
 * 20 s window, tokens = tok/s × 20; and the provenance text the runner writes. The energy is solved
 * from the SCI wanted, so the stored SCI is the designed one up to rounding (≤ 1e-15 relative).
 *
 * The designed metrics (SCI µg/token, BPB, tok/s), and what the analyses should find:
 *
 *  id model          fam     params quant  batch engine    SCI        BPB   tok/s   note
 *   1 Qwen 0.5B      qwen2.5 0.5e9  bf16     1   vllm      5.0        0.80   1000   dominated by 2
 *   2 Qwen 0.5B      qwen2.5 0.5e9  bf16     8   vllm      law(0.5e9) 0.80   8000   front (greenest real)
 *   3 Qwen 0.5B      qwen2.5 0.5e9  awq      8   vllm      0.5        0.85   9000   front (fastest)
 *   4 Qwen 1.5B      qwen2.5 1.5e9  bf16     8   vllm      law(1.5e9) 0.70   5000   front (BPB)
 *   5 Qwen 7B        qwen2.5 7e9    bf16     8   vllm      law(7e9)   0.60   2000   front (best BPB)
 *   6 Qwen 7B        qwen2.5 7e9    fp8     16   vllm      1.2        0.62   1800   dominated by 5
 *   7 Llama 3.2 1B   llama   1e9    q8_0     8   llamacpp  0.45       0.78   7000   front
 *   8 Llama 3.1 8B   llama   8e9    (none)   8   transformers 1.5     null   1500   not comparable (no BPB)
 *   9 Qwen 7B        qwen2.5 7e9    bf16    32   vllm      failed
 *  10 sim Qwen 0.5B  qwen2.5 0.5e9  bf16    64   sim       0.1        0.80  50000   SIMULATED
 *  11 Qwen 1.5B      qwen2.5 1.5e9  bf16     1   vllm      0.2        0.70  20000   phase manual
 *
 * law(p) = 0.000207 · p^0.374, DESIGN's seed law, so family qwen2.5 fits it exactly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach } from 'vitest';

import { SECONDS_PER_YEAR, computeSci } from '../../src/carbon/sci.js';
import { openStore, type NewExperiment, type Store } from '../../src/store/index.js';

export const law = (params: number): number => 0.000207 * params ** 0.374;

export interface Designed {
  id: number;
  model: string;
  family: string | null;
  params: number;
  quant: string | null;
  batch: number;
  engine: string;
  sciUg: number | null;
  bpb: number | null;
  tokS: number | null;
  status?: 'ok' | 'failed';
  simulated?: boolean;
  phase?: string;
}

export const Q05 = 'Qwen/Qwen2.5-0.5B-Instruct';
export const Q15 = 'Qwen/Qwen2.5-1.5B-Instruct';
export const Q7 = 'Qwen/Qwen2.5-7B-Instruct';
export const L1 = 'meta-llama/Llama-3.2-1B-Instruct';
export const L8 = 'meta-llama/Llama-3.1-8B-Instruct';
export const SIM = 'sim/qwen2.5-0.5b';

export const DESIGNED: readonly Designed[] = [
  { id: 1, model: Q05, family: 'qwen2.5', params: 0.5e9, quant: 'bf16', batch: 1, engine: 'vllm', sciUg: 5.0, bpb: 0.8, tokS: 1000 },
  { id: 2, model: Q05, family: 'qwen2.5', params: 0.5e9, quant: 'bf16', batch: 8, engine: 'vllm', sciUg: law(0.5e9), bpb: 0.8, tokS: 8000 },
  { id: 3, model: Q05, family: 'qwen2.5', params: 0.5e9, quant: 'awq', batch: 8, engine: 'vllm', sciUg: 0.5, bpb: 0.85, tokS: 9000 },
  { id: 4, model: Q15, family: 'qwen2.5', params: 1.5e9, quant: 'bf16', batch: 8, engine: 'vllm', sciUg: law(1.5e9), bpb: 0.7, tokS: 5000 },
  { id: 5, model: Q7, family: 'qwen2.5', params: 7e9, quant: 'bf16', batch: 8, engine: 'vllm', sciUg: law(7e9), bpb: 0.6, tokS: 2000 },
  { id: 6, model: Q7, family: 'qwen2.5', params: 7e9, quant: 'fp8', batch: 16, engine: 'vllm', sciUg: 1.2, bpb: 0.62, tokS: 1800 },
  { id: 7, model: L1, family: 'llama', params: 1e9, quant: 'q8_0', batch: 8, engine: 'llamacpp', sciUg: 0.45, bpb: 0.78, tokS: 7000 },
  { id: 8, model: L8, family: 'llama', params: 8e9, quant: null, batch: 8, engine: 'transformers', sciUg: 1.5, bpb: null, tokS: 1500 },
  { id: 9, model: Q7, family: 'qwen2.5', params: 7e9, quant: 'bf16', batch: 32, engine: 'vllm', sciUg: null, bpb: null, tokS: null, status: 'failed' },
  { id: 10, model: SIM, family: 'qwen2.5', params: 0.5e9, quant: 'bf16', batch: 64, engine: 'sim', sciUg: 0.1, bpb: 0.8, tokS: 50000, simulated: true },
  { id: 11, model: Q15, family: 'qwen2.5', params: 1.5e9, quant: 'bf16', batch: 1, engine: 'vllm', sciUg: 0.2, bpb: 0.7, tokS: 20000, phase: 'manual' },
];

export const WINDOW_S = 20;
export const INTENSITY = 210;
export const TE_KG = 200;
export const LIFETIME_Y = 5;

/** The stored row of a designed experiment: scored like the runner, energy solved from the SCI wanted. */
export function experimentOf(runId: number, d: Designed): NewExperiment {
  const base: NewExperiment = {
    runId,
    engine: d.engine,
    model: d.model,
    params: d.params,
    quant: d.quant,
    batch: d.batch,
    inputLen: 512,
    outputLen: 128,
    config: {
      engine: d.engine,
      model: d.model,
      params: d.params,
      ...(d.family === null ? {} : { family: d.family }),
      quant: d.quant,
      batch: d.batch,
      input_len: 512,
      output_len: 128,
    },
    phase: d.phase ?? 'grid',
    status: d.status ?? 'ok',
    simulated: d.simulated ?? false,
    startedAt: `2026-01-01T00:${String(d.id).padStart(2, '0')}:00.000Z`,
    endedAt: `2026-01-01T00:${String(d.id).padStart(2, '0')}:40.000Z`,
  };
  if ((d.status ?? 'ok') !== 'ok') return { ...base, error: 'engine died while loading' };
  const tokensOut = d.tokS! * WINDOW_S;
  const embodied = { embodiedTotalG: TE_KG * 1000, lifetimeS: LIFETIME_Y * SECONDS_PER_YEAR, gpusUsed: 1, gpusTotal: 1 };
  const m = computeSci({ energyJ: 0, tokensOut, intensityGPerKwh: INTENSITY, windowS: WINDOW_S, ...embodied }).embodiedG;
  const energyJ = (((d.sciUg! * tokensOut) / 1e6 - m) * 3_600_000) / INTENSITY;
  const sci = computeSci({ energyJ, tokensOut, intensityGPerKwh: INTENSITY, windowS: WINDOW_S, ...embodied });
  const windowStartTS = 1_767_225_600 + d.id * 60 + 10; // 2026-01-01T00:<id>:10Z
  return {
    ...base,
    windowStartTS,
    windowEndTS: windowStartTS + WINDOW_S,
    windowS: WINDOW_S,
    requests: Math.round(tokensOut / 128),
    tokensOut,
    tokS: tokensOut / WINDOW_S,
    energyJ,
    energySource: d.simulated ? 'sim' : 'nvml',
    avgPowerW: energyJ / WINDOW_S,
    bpb: d.bpb,
    region: 'US-NE-ISNE',
    intensityGKwh: INTENSITY,
    embodiedG: sci.embodiedG,
    hardwareId: 'dgx-spark',
    hardwareFallback: false,
    gpusUsed: 1,
    sciOpUg: sci.sciOpUg,
    sciEmbUg: sci.sciEmbUg,
    sciUg: sci.sciUg,
    provenance: {
      embodied_g: `dgx-spark: GPU name "NVIDIA GB10" ~ /GB10/; TE ${TE_KG} kg over ${LIFETIME_Y} y, 1/1 GPUs`,
      intensity_g_kwh: 'Connecticut / ISO New England (reference study default)',
    },
  };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'cb-analysis-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Writes a results.db of `rows` (default: DESIGNED) in a fresh temp directory; returns its path. */
export async function designedDb(rows: readonly Designed[] = DESIGNED): Promise<string> {
  const path = join(tempDir(), 'results.db');
  const store: Store = await openStore(path);
  try {
    const runId = await store.createRun({
      programText: '---\nengine: vllm\n---\nhand-made analysis fixture\n',
      programHash: 'f'.repeat(64),
      toolVersion: '0.1.0',
      hardware: 'dgx-spark',
      host: 'spark',
      gpuNames: ['NVIDIA GB10'],
      status: 'completed',
    });
    for (const d of rows) {
      const id = await store.insertExperiment(experimentOf(runId, d));
      if (id !== d.id) throw new Error(`fixture: expected id ${d.id}, got ${id}`);
    }
  } finally {
    await store.close();
  }
  return path;
}

/** Ids of designed rows matching `f`. */
export const idsWhere = (f: (d: Designed) => boolean): number[] => DESIGNED.filter(f).map((d) => d.id);
export const designed = (id: number): Designed => DESIGNED.find((d) => d.id === id)!;
