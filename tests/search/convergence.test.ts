import { describe, expect, it } from 'vitest';
import { convergence, hasConverged, noiseFloor } from '../../src/search/convergence.js';
import { parseConstraint } from '../../src/search/space.js';
import type { Observation, SpacePoint } from '../../src/search/types.js';

const BASE: SpacePoint = { model: 'm', quant: 'bf16', batch: 8, inputLen: 128, outputLen: 128 };
let n = 0;
/** A distinct point per call (batch grows), ok, with this SCI. */
function o(phase: string, sciUg: number | null, bpb: number | null = 1, point?: Partial<SpacePoint>): Observation {
  n++;
  return { point: { ...BASE, batch: 100 + n, ...point }, status: sciUg === null ? 'failed' : 'ok', sciUg, bpb: sciUg === null ? null : bpb, tokS: 1, phase };
}
const baselineRepeat = (sciUg: number): Observation => ({ point: BASE, status: 'ok', sciUg, bpb: 1, tokS: 1, phase: 'baseline' });

describe('noise floor', () => {
  it('is the relative sample std of SCI over >= 3 ok baseline repeats', () => {
    expect(noiseFloor([baselineRepeat(10), baselineRepeat(11)])).toEqual({ relStd: null, repeats: 2, meanSciUg: 10.5 });
    const f = noiseFloor([baselineRepeat(9), baselineRepeat(10), baselineRepeat(11), o('grid', 1)]);
    // sample std of 9, 10, 11 = 1; mean 10.
    expect(f.repeats).toBe(3);
    expect(f.relStd).toBeCloseTo(0.1, 12);
    expect(noiseFloor([baselineRepeat(5), baselineRepeat(5), baselineRepeat(5)]).relStd).toBe(0);
    // Failed repeats do not count; a point filter keeps only that config.
    const failedRepeat: Observation = { ...baselineRepeat(1), status: 'failed', sciUg: null };
    expect(noiseFloor([baselineRepeat(9), failedRepeat, baselineRepeat(11)]).relStd).toBeNull();
    expect(noiseFloor([baselineRepeat(9), baselineRepeat(10), { ...baselineRepeat(11), point: { ...BASE, batch: 1 } }], BASE).relStd).toBeNull();
  });
});

describe('hasConverged', () => {
  it('needs `patience` experiments of the phase', () => {
    const h = [o('grid', 10), o('grid', 10), o('grid', 10)];
    expect(hasConverged(h, 'grid', 4, 0.01)).toBe(false);
    expect(hasConverged(h, 'grid', 3, 0.01)).toBe(false); // the window found the first feasible point
    expect(hasConverged([o('baseline', 10), ...h], 'grid', 3, 0.01)).toBe(true);
  });

  it('an improvement within the floor does not count; one above it does', () => {
    const before = [o('baseline', 100), o('baseline', 100), o('baseline', 100)];
    expect(hasConverged([...before, o('grid', 120), o('grid', 99.5), o('grid', 130)], 'grid', 3, 0.01)).toBe(true);
    expect(hasConverged([...before, o('grid', 120), o('grid', 98.5), o('grid', 130)], 'grid', 3, 0.01)).toBe(false);
    // The window slides: the improvement at the first grid experiment leaves it after `patience` more.
    const h = [...before, o('grid', 50), o('grid', 60), o('grid', 70), o('grid', 80)];
    expect(hasConverged(h, 'grid', 4, 0.01)).toBe(false);
    expect(hasConverged(h, 'grid', 3, 0.01)).toBe(true);
    expect(convergence(h, 'grid', 3, 0.01)).toMatchObject({ converged: true, phaseExperiments: 4, bestBeforeUg: 50, bestNowUg: 50, improvementRel: 0 });
  });

  it('counts small gains cumulatively over the window', () => {
    const h = [o('baseline', 100), o('random', 99.4), o('random', 98.8), o('random', 98.2)];
    // Each step gains 0.6% < 1%, together 1.8% > 1%.
    expect(hasConverged(h, 'random', 3, 0.01)).toBe(false);
    expect(convergence(h, 'random', 3, 0.01).improvementRel).toBeCloseTo(0.018, 12);
  });

  it('only counts this phase\'s experiments and never converges with nothing feasible', () => {
    const h = [o('grid', 10), o('random', 11), o('random', 12), o('grid', 13), o('random', 14)];
    expect(hasConverged(h, 'random', 3, 0.01)).toBe(true);
    expect(hasConverged(h, 'grid', 3, 0.01)).toBe(false);
    const infeasible = [o('baseline', 10, 2), o('grid', 5, 2), o('grid', 4, 2), o('grid', 3, 2)];
    const abs = parseConstraint('bpb <= 1.5');
    expect(hasConverged(infeasible, 'grid', 3, 0.01, abs)).toBe(false);
    expect(hasConverged([...infeasible, o('grid', null)], 'grid', 3, 0.01, null)).toBe(false);
  });

  it('judges feasibility with the constraint (a relative one against the model baseline)', () => {
    const rel = parseConstraint('bpb <= 1.02 * baseline');
    const h = [o('baseline', 10, 1.0, { quant: 'bf16' }), o('grid', 5, 1.05, { quant: 'awq' }), o('grid', 6, 1.06, { quant: 'awq' }), o('grid', 4, 1.05, { quant: 'awq' })];
    // Without the constraint the awq points improve by 60%; with it nothing feasible improved.
    expect(hasConverged(h, 'grid', 3, 0.01)).toBe(false);
    expect(hasConverged(h, 'grid', 3, 0.01, rel)).toBe(true);
  });
});
