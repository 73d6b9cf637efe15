import { describe, expect, it } from 'vitest';
import {
  SIM_HARDWARE,
  SIM_QUANTS,
  kvBytesPerToken,
  modelShape,
  noiseFactor,
  normalFromKey,
  powerForActivity,
  serverStartS,
  simBpb,
  simulate,
  type SimHardware,
} from '../../src/engines/sim-model.js';

/** A board with round numbers and no inefficiency, so the equations can be checked by hand. */
const toy: SimHardware = {
  ...SIM_HARDWARE['h100-sxm'],
  memBandwidthBytesPerS: 1e12,
  bf16FlopsPerS: 100e12,
  fp8FlopsPerS: 200e12,
  memoryBytes: 100e9,
  tdpW: 500,
  idleW: 100,
  bandwidthEfficiency: 1,
  computeEfficiency: 1,
  stepOverheadS: 0,
  perSequenceOverheadS: 0,
  memoryPowerWeight: 0.5,
};

/** 1e9 parameters, family llama → Llama-3.2-1B's shape: 16 layers, 8 KV heads of 64 → 32,768 B/token. */
const oneB = { params: 1e9, family: 'llama' } as const;
const curve = (x: number): number => (1 - Math.exp(-2 * x)) / (1 - Math.exp(-2));

describe('sim model: equations on hand-computed cases', () => {
  it('derives the KV cache size from the nearest reference shape', () => {
    const shape = modelShape(1e9, 'llama');
    expect(shape).toMatchObject({ layers: 16, kvHeads: 8, headDim: 64, reference: 'Llama-3.2-1B' });
    expect(kvBytesPerToken(shape)).toBe(32_768);
    expect(kvBytesPerToken(modelShape(8e9, 'llama'))).toBe(131_072); // Llama 3.1 8B: 128 KiB per token
    expect(modelShape(7e9, 'Qwen2.5').reference).toBe('Qwen2.5-7B');
    expect(modelShape(8e9, 'qwen3').reference).toBe('Qwen3-8B');
    expect(modelShape(70e9).reference).toMatch(/70B|72B/);
  });

  it('memory-bound decode: step = (weights + KV read) / bandwidth', () => {
    const p = simulate(toy, { ...oneB, quant: 'bf16', batch: 1, inputLen: 100, outputLen: 100 });
    // W = 2e9 B; KV read per step = 1 × (100 + 50) × 32768 = 4,915,200 B.
    expect(p.weightBytes).toBe(2e9);
    expect(p.decodeMemoryS).toBeCloseTo((2e9 + 4_915_200) / 1e12, 15);
    expect(p.decodeComputeS).toBeCloseTo((2 * 1e9) / 1e14, 15); // 2e-5 s
    expect(p.regime).toBe('memory');
    expect(p.decodeStepS).toBeCloseTo(2.0049152e-3, 15);
    // Prefill: max(2 × 1e9 × 1 × 100 / 1e14, 2e9 / 1e12) = 2e-3 s.
    expect(p.prefillS).toBeCloseTo(2e-3, 15);
    expect(p.cycleS).toBeCloseTo(2e-3 + 100 * 2.0049152e-3, 12);
    expect(p.tokPerS).toBeCloseTo(100 / 0.20249152, 6);
    // Power: decode activity = 0.5 × tm/ts + tc/ts; prefill activity = 0.5 × 1 + 1 → clamped to 1.
    const xDecode = 0.5 + 2e-5 / 2.0049152e-3;
    expect(p.decodePowerW).toBeCloseTo(100 + 400 * curve(xDecode), 9);
    expect(p.prefillPowerW).toBeCloseTo(500, 9);
    const avg = (500 * 2e-3 + p.decodePowerW * 100 * 2.0049152e-3) / 0.20249152;
    expect(p.powerW).toBeCloseTo(avg, 9);
    expect(p.jPerToken).toBeCloseTo((avg * 0.20249152) / 100, 9);
    expect(p.utilPct).toBeCloseTo(100, 9); // no overhead: a kernel always runs
    expect(p.atPowerCap).toBe(false);
  });

  it('compute-bound decode: step = 2 × params × batch / FLOP/s', () => {
    const p = simulate(toy, { ...oneB, quant: 'bf16', batch: 1000, inputLen: 10, outputLen: 10 });
    // KV read = 1000 × 15 × 32768 = 491.52e6 B → tm = 2.49152e-3 s < tc = 2e9 × 1000 / 1e14 = 0.02 s.
    expect(p.decodeMemoryS).toBeCloseTo(2.49152e-3, 15);
    expect(p.decodeComputeS).toBeCloseTo(0.02, 15);
    expect(p.regime).toBe('compute');
    expect(p.decodeStepS).toBeCloseTo(0.02, 15);
    expect(p.prefillS).toBeCloseTo((2 * 1e9 * 1000 * 10) / 1e14, 12); // 0.2 s
    expect(p.tokPerS).toBeCloseTo((1000 * 10) / (0.2 + 10 * 0.02), 6);
    expect(p.decodePowerW).toBe(500); // activity ≥ 1: at the TDP
    expect(p.atPowerCap).toBe(true);
  });

  it('fp8 halves the weight bytes and doubles the FLOP/s; weight-only 4-bit keeps the bf16 rate', () => {
    const fp8 = simulate(toy, { ...oneB, quant: 'fp8', batch: 1000, inputLen: 10, outputLen: 10 });
    expect(fp8.weightBytes).toBe(1e9);
    expect(fp8.decodeComputeS).toBeCloseTo(0.01, 15);
    const awq = simulate(toy, { ...oneB, quant: 'awq', batch: 1000, inputLen: 10, outputLen: 10 });
    expect(awq.weightBytes).toBeCloseTo(1e9 * (4.25 / 8), 3);
    expect(awq.decodeComputeS).toBeCloseTo(0.02, 15);
  });

  it('adds the per-step and per-sequence overheads', () => {
    const hw = { ...toy, stepOverheadS: 1e-3, perSequenceOverheadS: 1e-5 };
    const p = simulate(hw, { ...oneB, quant: 'bf16', batch: 10, inputLen: 100, outputLen: 100 });
    // tm = (2e9 + 10 × 150 × 32768) / 1e12
    const tm = (2e9 + 10 * 150 * 32_768) / 1e12;
    expect(p.decodeStepS).toBeCloseTo(tm + 1e-3 + 10 * 1e-5, 15);
    expect(p.utilPct).toBeCloseTo((100 * (p.prefillS + 100 * tm)) / p.cycleS, 9);
  });

  it('runs out of memory exactly when weights + KV cache exceed 90% of memory', () => {
    // 90e9 usable; W = 2e9; 1000 tokens per sequence × 32768 B: 2685 sequences fit, 2686 do not.
    const at = (batch: number) => simulate(toy, { ...oneB, quant: 'bf16', batch, inputLen: 500, outputLen: 500 });
    expect(at(2685).memoryNeededBytes).toBe(2e9 + 2685 * 1000 * 32_768);
    expect(at(2685).oom).toBe(false);
    expect(at(2686).oom).toBe(true);
    // Weights alone: 70B at bf16 (141 GB) do not fit on an H100; at fp8 they do.
    expect(simulate(SIM_HARDWARE['h100-sxm'], { params: 70.6e9, family: 'llama', quant: 'bf16', batch: 1, inputLen: 128, outputLen: 128 }).oom).toBe(true);
    expect(simulate(SIM_HARDWARE['h100-sxm'], { params: 70.6e9, family: 'llama', quant: 'fp8', batch: 1, inputLen: 128, outputLen: 128 }).oom).toBe(false);
  });

  it('power is idle at activity 0, the TDP at 1, saturating in between', () => {
    const hw = SIM_HARDWARE['dgx-spark'];
    expect(powerForActivity(hw, 0)).toBe(30);
    expect(powerForActivity(hw, 1)).toBeCloseTo(140, 9);
    expect(powerForActivity(hw, 2)).toBeCloseTo(140, 9);
    const half = powerForActivity(hw, 0.5) - 30;
    expect(half / 110).toBeGreaterThan(0.5); // concave: more than half the range at half the activity
    expect(half / 110).toBeCloseTo(curve(0.5), 12);
  });

  it('charges 20 s + 2 s per GB of weights to start a server', () => {
    expect(serverStartS(8e9, 'bf16')).toBeCloseTo(20 + 2 * 16, 9);
    expect(serverStartS(8e9, 'fp8')).toBeCloseTo(20 + 2 * 8, 9);
  });
});

describe('sim model: BPB (toy)', () => {
  it('follows the Chinchilla law in bits per byte at 4 bytes per token', () => {
    const expected = (1.69 + 406.4 / 1e9 ** 0.34) / Math.LN2 / 4; // ≈ 0.7372
    expect(simBpb(1e9, 'bf16')).toBeCloseTo(expected, 12);
    expect(simBpb(1e9, 'bf16')).toBeCloseTo(0.7372, 3);
  });

  it('orders quantizations: bf16 = fp16 < q8_0 < fp8 < q6_k < q5_k_m < awq < gptq = q4_k_m < int4 < q4_0', () => {
    const b = (q: string) => simBpb(7.6e9, q);
    expect(b('fp16')).toBe(b('bf16'));
    const order = ['bf16', 'q8_0', 'fp8', 'q6_k', 'q5_k_m', 'awq', 'gptq', 'int4', 'q4_0'];
    for (let i = 1; i < order.length; i++) expect(b(order[i]!)).toBeGreaterThan(b(order[i - 1]!));
    expect(b('q4_k_m')).toBe(b('gptq'));
    expect(b('fp8') / b('bf16') - 1).toBeCloseTo(0.003, 12);
    expect(b('awq') / b('bf16') - 1).toBeCloseTo(0.025, 12);
  });

  it('falls with model size', () => {
    expect(simBpb(0.5e9, 'bf16')).toBeGreaterThan(simBpb(7e9, 'bf16'));
    expect(simBpb(7e9, 'bf16')).toBeGreaterThan(simBpb(70e9, 'bf16'));
  });

  it('knows a bytes-per-weight figure for every quant it accepts', () => {
    for (const [name, q] of Object.entries(SIM_QUANTS)) {
      expect(q.bytesPerWeight, name).toBeGreaterThan(0.4);
      expect(q.bytesPerWeight, name).toBeLessThanOrEqual(4);
    }
  });
});

describe('sim model: sanity', () => {
  it('J/token falls with batch while memory-bound, and flattens once compute-bound', () => {
    for (const hw of [SIM_HARDWARE['dgx-spark'], SIM_HARDWARE['h100-sxm']]) {
      const batches = [1, 2, 4, 8, 16, 32, 64, 128];
      const runs = batches.map((batch) => simulate(hw, { params: 8e9, family: 'llama', quant: 'bf16', batch, inputLen: 512, outputLen: 128 }));
      for (const r of runs) expect(r.regime).toBe('memory');
      for (let i = 1; i < runs.length; i++) expect(runs[i]!.jPerToken).toBeLessThan(runs[i - 1]!.jPerToken);
    }
    // A 4-bit 1B model becomes compute-bound at large batch on the toy board: from there a doubling
    // of the batch saves little (< 10%), where in the memory-bound range it nearly halves J/token.
    const at = (batch: number) => simulate(toy, { ...oneB, quant: 'awq', batch, inputLen: 16, outputLen: 16 });
    expect(at(1).regime).toBe('memory');
    expect(at(2).jPerToken / at(1).jPerToken).toBeLessThan(0.6);
    expect(at(2048).regime).toBe('compute');
    expect(at(4096).jPerToken / at(2048).jPerToken).toBeGreaterThan(0.9);
  });

  it('bigger models cost more per token at the same config', () => {
    const hw = SIM_HARDWARE['h100-sxm'];
    const j = (params: number) => simulate(hw, { params, quant: 'fp8', batch: 8, inputLen: 512, outputLen: 128 }).jPerToken;
    expect(j(0.5e9)).toBeLessThan(j(8e9));
    expect(j(8e9)).toBeLessThan(j(70e9));
  });

  it('lands near the reference vLLM figures of DESIGN section 10 (within a factor 2)', () => {
    const h100 = SIM_HARDWARE['h100-sxm'];
    const llama = simulate(h100, { params: 8.03e9, family: 'llama', quant: 'bf16', batch: 64, inputLen: 512, outputLen: 512 });
    expect(llama.jPerToken / 0.12).toBeGreaterThan(0.5);
    expect(llama.jPerToken / 0.12).toBeLessThan(2);
    expect(llama.jPerToken).toBeCloseTo(0.115, 2); // the figure quoted in sim-model.ts
    const qwen3 = simulate(h100, { params: 8.19e9, family: 'qwen3', quant: 'bf16', batch: 128, inputLen: 512, outputLen: 512 });
    expect(qwen3.jPerToken / 0.094).toBeGreaterThan(0.5);
    expect(qwen3.jPerToken / 0.094).toBeLessThan(2);
    // HF generate of a 0.5B model on an H200 (3.2 and 0.026 J/token) is slower than a serving engine:
    // the sim is well below both, by ~10× at batch 1 and ~4× at batch 128.
    const h200 = SIM_HARDWARE.h200;
    const small = (batch: number) => simulate(h200, { params: 0.494e9, family: 'qwen2.5', quant: 'bf16', batch, inputLen: 128, outputLen: 128 });
    expect(small(1).jPerToken).toBeLessThan(3.2 / 5);
    expect(small(128).jPerToken).toBeLessThan(0.026 / 2);
    expect(small(128).jPerToken).toBeGreaterThan(0.026 / 10);
  });

  it('a memory-bound decode on the DGX Spark draws within the 60-90 W independent tests saw', () => {
    const p = simulate(SIM_HARDWARE['dgx-spark'], { params: 7.6e9, family: 'qwen2.5', quant: 'bf16', batch: 1, inputLen: 512, outputLen: 128 });
    expect(p.decodePowerW).toBeGreaterThanOrEqual(60);
    expect(p.decodePowerW).toBeLessThanOrEqual(90);
  });
});

describe('sim model: deterministic noise', () => {
  it('is a pure function of its key, ~N(0, 1), and exactly 1 at σ = 0', () => {
    expect(normalFromKey('a|1')).toBe(normalFromKey('a|1'));
    expect(normalFromKey('a|1')).not.toBe(normalFromKey('a|2'));
    const z = Array.from({ length: 4000 }, (_, i) => normalFromKey(`seed|${i}`));
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const sd = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length);
    expect(Math.abs(mean)).toBeLessThan(0.06);
    expect(sd).toBeGreaterThan(0.9);
    expect(sd).toBeLessThan(1.1);
    expect(Math.max(...z.map(Math.abs))).toBeLessThanOrEqual(3);
    expect(noiseFactor('anything', 0)).toBe(1);
    expect(noiseFactor('x', 0.02)).toBeCloseTo(1 + 0.02 * normalFromKey('x'), 15);
  });
});
