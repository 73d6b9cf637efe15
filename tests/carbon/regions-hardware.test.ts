import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { chooseHardware, loadHardwareProfiles } from '../../src/carbon/hardware.js';
import { DEFAULT_REGION, findRegion, loadRegions, resolveIntensity } from '../../src/carbon/regions.js';

describe('grid regions (data/grid-regions.csv)', () => {
  it('loads every row with a source, the reference default is US-NE-ISNE = 210', () => {
    const regions = loadRegions();
    expect(regions.length).toBeGreaterThan(30);
    for (const r of regions) expect(r.source.length).toBeGreaterThan(10);
    expect(DEFAULT_REGION).toBe('US-NE-ISNE');
    expect(findRegion('US-NE-ISNE').intensityGPerKwh).toBe(210);
    expect(findRegion('us-ne-newe').intensityGPerKwh).toBe(246.4);
    // A quoted name with a comma inside survives the CSV reader.
    expect(findRegion('EU').name).toBe('European Union (EU-27, Ember aggregate)');
  });

  it('intensity overrides region; no choice gives the default', () => {
    expect(resolveIntensity({})).toMatchObject({ intensityGPerKwh: 210, region: 'US-NE-ISNE' });
    expect(resolveIntensity({ region: 'FR' })).toMatchObject({ intensityGPerKwh: 44.2, region: 'FR' });
    expect(resolveIntensity({ region: 'FR', intensityGPerKwh: 500 })).toMatchObject({ intensityGPerKwh: 500, region: null, source: 'user-supplied intensity' });
  });

  it('an unknown region or an absurd intensity names what is allowed', () => {
    expect(() => findRegion('Atlantis')).toThrow(InputError);
    expect(() => findRegion('Atlantis')).toThrow(/allowed: FR, DE/);
    expect(() => resolveIntensity({ intensityGPerKwh: -3 })).toThrow(/0 to 2000/);
  });
});

describe('hardware profiles (data/hardware.csv)', () => {
  it('matches the names nvidia-smi prints', () => {
    expect(chooseHardware('NVIDIA H100 80GB HBM3', 2).profile.id).toBe('h100-sxm');
    expect(chooseHardware('NVIDIA H200', 1).profile.id).toBe('h200');
    expect(chooseHardware('NVIDIA GB10', 1).profile.id).toBe('dgx-spark');
    expect(chooseHardware('NVIDIA A100-SXM4-80GB', 1).profile.id).toBe('a100');
  });

  it('TE = per-unit embodied × GPUs on the machine, fallback flagged', () => {
    const h100 = chooseHardware('NVIDIA H100 80GB HBM3', 2);
    expect(h100.embodiedTotalKg).toBe(2 * 164);
    expect(h100.gpusTotal).toBe(2);
    expect(h100.fallback).toBe(false);
    const t4 = chooseHardware('Tesla T4', 1);
    expect(t4.profile.id).toBe('generic');
    expect(t4.fallback).toBe(true);
    expect(chooseHardware(null, 0).fallback).toBe(true);
  });

  it('program.md overrides win and are validated', () => {
    const spark = chooseHardware('Tesla T4', 1, { hardware: 'dgx-spark', lifetimeYears: 4 });
    expect(spark.profile.id).toBe('dgx-spark');
    expect(spark.fallback).toBe(false);
    expect(spark.lifetimeYears).toBe(4);
    expect(chooseHardware('NVIDIA H200', 8, { embodiedKg: 1000, gpusTotal: 8 }).embodiedTotalKg).toBe(1000);
    expect(() => chooseHardware('x', 1, { hardware: 'tpu' })).toThrow(/allowed: dgx-spark/);
    expect(() => chooseHardware('x', 1, { gpusTotal: 0 })).toThrow(/gpus_total/);
  });

  it('every profile keeps its source', () => {
    for (const p of loadHardwareProfiles()) expect(p.source.length).toBeGreaterThan(10);
  });
});
