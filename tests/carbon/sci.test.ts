import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { SECONDS_PER_YEAR, computeSci } from '../../src/carbon/sci.js';

describe('computeSci (DESIGN section 6), hand-computed', () => {
  it('1 kWh at 210 g/kWh over 1e6 tokens, one of 8 H100s for an hour', () => {
    const r = computeSci({
      energyJ: 3_600_000,
      tokensOut: 1_000_000,
      intensityGPerKwh: 210,
      embodiedTotalG: 8 * 164_000,
      lifetimeS: 5 * SECONDS_PER_YEAR,
      windowS: 3600,
      gpusUsed: 1,
      gpusTotal: 8,
    });
    expect(r.energyKwh).toBe(1);
    expect(r.jPerToken).toBe(3.6);
    expect(r.operationalG).toBeCloseTo(210, 12);
    // M = 1 312 000 g × 3600 s / 157 788 000 s × 1/8 = 164 000 × 3600 / 157 788 000 = 3.7417294091 g
    expect(r.embodiedG).toBeCloseTo(3.7417294091, 9);
    expect(r.sciOpUg).toBeCloseTo(210, 9);
    expect(r.sciEmbUg).toBeCloseTo(3.7417294091, 9);
    expect(r.sciUg).toBeCloseTo(213.7417294091, 9);
    expect(r.totalG).toBeCloseTo(r.operationalG + r.embodiedG, 12);
  });

  it('reference numbers: 0.12 J/token at 210 g/kWh is 7 µgCO2e/token operational', () => {
    const r = computeSci({
      energyJ: 120,
      tokensOut: 1000,
      intensityGPerKwh: 210,
      embodiedTotalG: 0,
      lifetimeS: 1,
      windowS: 1,
      gpusUsed: 1,
      gpusTotal: 1,
    });
    // 120 J = 3.333e-5 kWh × 210 = 7.0e-3 g over 1000 tokens = 7.0 µg/token.
    expect(r.sciOpUg).toBeCloseTo(7, 10);
    expect(r.sciEmbUg).toBe(0);
  });

  it('rejects inputs that would give a meaningless figure', () => {
    const base = { energyJ: 1, tokensOut: 1, intensityGPerKwh: 1, embodiedTotalG: 1, lifetimeS: 1, windowS: 1, gpusUsed: 1, gpusTotal: 1 };
    expect(() => computeSci({ ...base, tokensOut: 0 })).toThrow(InputError);
    expect(() => computeSci({ ...base, energyJ: Number.NaN })).toThrow(/energyJ/);
    expect(() => computeSci({ ...base, gpusUsed: 2 })).toThrow(/gpusUsed/);
    expect(() => computeSci({ ...base, windowS: 0 })).toThrow(/windowS/);
  });
});
