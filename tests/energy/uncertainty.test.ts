import { describe, expect, it } from 'vitest';
import { ratioConfidence, tQuantile975 } from '../../src/energy/uncertainty.js';

describe('ratioConfidence (J/token over segments)', () => {
  it('identical segments have no uncertainty', () => {
    const r = ratioConfidence(Array.from({ length: 10 }, () => ({ energyJ: 100, tokens: 1000 })));
    expect(r.jPerToken).toBeCloseTo(0.1, 12);
    expect(r.ciRel).toBe(0);
  });

  it('hand-computed: E = (10, 12, 14), T = (100, 100, 100)', () => {
    // R = 36/300 = 0.12; residuals -2, 0, 2 → Σd² = 8; Var = 3/2 · 8 / 300² = 1.3333e-4;
    // √Var = 0.011547; t(0.975, 2) = 4.303 → half-width 0.049687; rel = 0.41406.
    const r = ratioConfidence([
      { energyJ: 10, tokens: 100 },
      { energyJ: 12, tokens: 100 },
      { energyJ: 14, tokens: 100 },
    ]);
    expect(r.jPerToken).toBeCloseTo(0.12, 12);
    expect(r.ciRel).toBeCloseTo((4.303 * Math.sqrt(1.5 * 8) / 300) / 0.12, 9);
  });

  it('more segments of the same spread narrow the interval', () => {
    const seg = (i: number): { energyJ: number; tokens: number } => ({ energyJ: 100 + (i % 2 ? 5 : -5), tokens: 1000 });
    const few = ratioConfidence(Array.from({ length: 4 }, (_, i) => seg(i)));
    const many = ratioConfidence(Array.from({ length: 40 }, (_, i) => seg(i)));
    expect(many.ciRel).toBeLessThan(few.ciRel / 3);
  });

  it('is undefined with fewer than 3 segments or no tokens', () => {
    expect(ratioConfidence([{ energyJ: 1, tokens: 1 }, { energyJ: 1, tokens: 1 }]).ciRel).toBe(Infinity);
    expect(ratioConfidence([{ energyJ: 1, tokens: 0 }, { energyJ: 1, tokens: 0 }, { energyJ: 1, tokens: 0 }]).jPerToken).toBe(Infinity);
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(1000)).toBe(1.96);
  });
});
