import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import {
  allPoints,
  baselineBpbs,
  bestFeasible,
  bestFeasibleTrajectory,
  byPrecision,
  feasibleObservations,
  inSpace,
  isFeasible,
  parseConstraint,
  pointAt,
  quantPrecision,
  spaceSize,
  validatePoint,
  validateSpace,
} from '../../src/search/space.js';
import type { Observation, SearchSpace, SpacePoint } from '../../src/search/types.js';

const SPACE: SearchSpace = { models: ['small', 'big'], quant: ['fp8', 'bf16', 'awq'], batch: [1, 8, 64], inputLen: [512, 128], outputLen: [128, 512] };

function ok(point: Partial<SpacePoint>, sciUg: number, bpb: number | null, phase = 'grid'): Observation {
  return { point: { model: 'small', quant: 'bf16', batch: 1, inputLen: 512, outputLen: 128, ...point }, status: 'ok', sciUg, bpb, tokS: 100, phase };
}
function failed(point: Partial<SpacePoint>): Observation {
  return { point: { model: 'small', quant: 'bf16', batch: 1, inputLen: 512, outputLen: 128, ...point }, status: 'failed', sciUg: null, bpb: null, tokS: null, phase: 'grid' };
}

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

describe('space enumeration', () => {
  it('enumerates the full factorial, server by server, and pointAt agrees with allPoints', () => {
    const pts = allPoints(SPACE);
    expect(spaceSize(SPACE)).toBe(2 * 3 * 3 * 2 * 2);
    expect(pts).toHaveLength(72);
    expect(new Set(pts.map((p) => JSON.stringify(p))).size).toBe(72);
    expect(pts[0]).toEqual({ model: 'small', quant: 'fp8', batch: 1, inputLen: 512, outputLen: 128 });
    expect(pts[1]).toEqual({ model: 'small', quant: 'fp8', batch: 1, inputLen: 512, outputLen: 512 });
    expect(pts[12]).toEqual({ model: 'small', quant: 'bf16', batch: 1, inputLen: 512, outputLen: 128 });
    pts.forEach((p, i) => expect(pointAt(SPACE, i)).toEqual(p));
    expect(pts.every((p) => inSpace(SPACE, p))).toBe(true);
    expect(inSpace(SPACE, { ...pts[0]!, batch: 2 })).toBe(false);
  });

  it('validates the space and points with the key, the value and what is allowed', () => {
    expect(() => validateSpace(SPACE)).not.toThrow();
    expect(inputError(() => validateSpace({ ...SPACE, batch: [] })).message).toBe('space.batch is empty; allowed: a non-empty list');
    expect(inputError(() => validateSpace({ ...SPACE, batch: [1, 1] })).message).toBe('space.batch lists 1 (number) twice; allowed: distinct values');
    expect(inputError(() => validateSpace({ ...SPACE, inputLen: [0] })).message).toBe('space.input_len value 0 (number) is invalid; allowed: positive integers');
    expect(inputError(() => validatePoint(SPACE, { model: 'small', quant: 'int4', batch: 1, inputLen: 512, outputLen: 128 })).message).toBe('quant "int4" (string) is not in the space; allowed: fp8, bf16, awq');
  });
});

describe('quantization precision', () => {
  it('orders fp32 > bf16 > fp16 > fp8 > int8/q8_0 > 4-bit > unknown', () => {
    const order = ['fp32', 'bf16', 'fp16', 'fp8', 'int8', 'q8_0', 'awq', 'gptq', 'int4', 'q4_k_m', 'mystery'];
    for (let i = 1; i < order.length; i++) expect(quantPrecision(order[i - 1]!)).toBeGreaterThanOrEqual(quantPrecision(order[i]!));
    expect(quantPrecision('fp32')).toBeGreaterThan(quantPrecision('bf16'));
    expect(quantPrecision('bf16')).toBeGreaterThan(quantPrecision('fp16'));
    expect(quantPrecision('fp16')).toBeGreaterThan(quantPrecision('fp8'));
    expect(quantPrecision('fp8')).toBeGreaterThan(quantPrecision('q8_0'));
    expect(quantPrecision('int8')).toBe(quantPrecision('q8_0'));
    expect(quantPrecision('q8_0')).toBeGreaterThan(quantPrecision('awq'));
    expect(quantPrecision('awq')).toBe(quantPrecision('q4_0'));
    expect(byPrecision(['awq', 'fp8', 'bf16', 'gptq'])).toEqual(['bf16', 'fp8', 'awq', 'gptq']);
  });
});

describe('parseConstraint', () => {
  it('parses the relative and the absolute form', () => {
    expect(parseConstraint('bpb <= 1.02 * baseline')).toEqual({ maxBpb: null, factor: 1.02, text: 'bpb <= 1.02 * baseline' });
    expect(parseConstraint('  BPB<=1.5*baseline ')).toEqual({ maxBpb: null, factor: 1.5, text: 'BPB<=1.5*baseline' });
    expect(parseConstraint('bpb <= 0.9')).toEqual({ maxBpb: 0.9, factor: null, text: 'bpb <= 0.9' });
    expect(parseConstraint('bpb ≤ .85')).toMatchObject({ maxBpb: 0.85 });
    expect(parseConstraint('bpb <= 1e0 * baseline')).toMatchObject({ factor: 1 });
  });

  it('rejects anything else, naming the value and both allowed forms', () => {
    for (const bad of ['bpb < 0.9', 'bpb >= 0.9', 'bpb <= baseline * 1.02', 'sci <= 3', 'bpb <= 0.9 + baseline', '', 'bpb <= -1', 'bpb <= 1.02 * baseline; rm -rf /']) {
      const e = inputError(() => parseConstraint(bad));
      expect(e.message).toContain(JSON.stringify(bad));
      expect(e.message).toMatch(/"bpb <= F \* baseline"/);
      expect(e.message).toMatch(/"bpb <= X"/);
    }
    expect(inputError(() => parseConstraint('bpb <= 0.98 * baseline')).message).toMatch(/factor 0.98 is out of range; allowed: a factor from 1 to 10/);
    expect(inputError(() => parseConstraint('bpb <= 0')).message).toMatch(/limit 0 is out of range/);
  });
});

describe('feasibility', () => {
  const rel = parseConstraint('bpb <= 1.02 * baseline');
  const abs = parseConstraint('bpb <= 0.9');

  it('takes each model\'s baseline from its highest-precision quant observed', () => {
    const h = [ok({ quant: 'fp8' }, 5, 1.0), ok({ quant: 'awq' }, 3, 1.05), ok({ model: 'big', quant: 'awq' }, 9, 0.8), ok({ model: 'big', quant: 'gptq' }, 9, 0.79)];
    const b = baselineBpbs(h);
    expect(b.get('small')).toEqual({ quant: 'fp8', bpb: 1.0 });
    // Two 4-bit formats tie: the lower BPB (stricter limit).
    expect(b.get('big')).toEqual({ quant: 'gptq', bpb: 0.79 });
    expect(baselineBpbs([...h, ok({ quant: 'bf16' }, 6, 0.99)]).get('small')).toEqual({ quant: 'bf16', bpb: 0.99 });
  });

  it('judges a relative limit against the baseline known so far', () => {
    const awq = ok({ quant: 'awq' }, 3, 1.025);
    const fp8 = ok({ quant: 'fp8' }, 4, 1.003);
    // Alone, awq is its own baseline.
    expect(feasibleObservations([awq], rel)).toEqual([awq]);
    const bf16 = ok({ quant: 'bf16' }, 6, 1.0);
    const h = [awq, fp8, bf16];
    expect(feasibleObservations(h, rel)).toEqual([fp8, bf16]);
    expect(bestFeasible(h, rel)).toBe(fp8);
    // The baseline itself is feasible at factor 1 (no rounding trouble).
    expect(isFeasible(bf16, parseConstraint('bpb <= 1 * baseline'), baselineBpbs(h))).toBe(true);
    expect(bestFeasible(h, null)).toBe(awq);
  });

  it('judges an absolute limit without baselines; failed, SCI-less and BPB-less observations are infeasible', () => {
    const h = [ok({}, 5, 0.95), ok({ model: 'big' }, 7, 0.85), ok({ model: 'big', batch: 8 }, 6, 0.9), failed({ batch: 64 }), ok({ batch: 8 }, 1, null)];
    expect(feasibleObservations(h, abs).map((o) => o.sciUg)).toEqual([7, 6]);
    expect(bestFeasible(h, abs)?.sciUg).toBe(6);
    // Without a constraint an observation without BPB still counts; a failed one never does.
    expect(bestFeasible(h, null)?.sciUg).toBe(1);
    expect(bestFeasible([failed({})], null)).toBeNull();
  });

  it('the trajectory re-judges earlier points when a better-precision baseline arrives', () => {
    const h = [ok({ quant: 'awq' }, 3, 1.05), ok({ quant: 'fp8' }, 4, 1.003), ok({ quant: 'bf16' }, 6, 1.0), ok({ quant: 'fp8', batch: 8 }, 3.5, 1.003)];
    // awq is its own baseline, then fp8's BPB (1.003) becomes the baseline and awq (1.05) is out.
    expect(bestFeasibleTrajectory(h, rel)).toEqual([3, 4, 4, 3.5]);
    expect(bestFeasibleTrajectory(h, null)).toEqual([3, 3, 3, 3]);
    expect(bestFeasibleTrajectory(h, abs)).toEqual([null, null, null, null]);
    expect(bestFeasibleTrajectory([failed({}), ok({}, 2, 0.5)], abs)).toEqual([null, 2]);
  });
});
