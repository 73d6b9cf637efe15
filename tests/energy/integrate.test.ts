import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EnergyWindowError } from '../../src/errors.js';
import { POWER_DRAW_ALIGN_S, integratePower, toPowerPoints } from '../../src/energy/integrate.js';
import { traceEnergy } from '../../src/energy/trace.js';
import { parseTrace } from '../../src/telemetry/smi-parse.js';
import { GEN_FIELDS, fixture } from '../helpers/paths.js';

describe('integratePower', () => {
  const points = [
    { tS: 0, powerW: 100 },
    { tS: 1, powerW: 200 },
    { tS: 2, powerW: 100 },
  ];

  it('integrates the trapezoid with interpolated edges (hand-computed)', () => {
    // Edges: p(0.5) = 150, p(1.5) = 150; area = 0.5·(150+200)/2 + 0.5·(200+150)/2 = 175 J.
    const r = integratePower(points, 0.5, 1.5);
    expect(r.energyJ).toBeCloseTo(175, 10);
    expect(r.meanPowerW).toBeCloseTo(175, 10);
    expect(r.peakPowerW).toBe(200);
    expect(r.samples).toBe(1);
    expect(integratePower(points, 0, 2).energyJ).toBeCloseTo(300, 10);
  });

  it('refuses a window whose edge lies outside the samples instead of extrapolating', () => {
    expect(() => integratePower(points, -0.1, 1)).toThrow(EnergyWindowError);
    expect(() => integratePower(points, 1, 2.01)).toThrow(/after the last usable power sample/);
  });

  it('refuses a window with a gap over 3 s and names it; exactly 3 s is allowed', () => {
    const gappy = [
      { tS: 0, powerW: 100 },
      { tS: 1, powerW: 100 },
      { tS: 6, powerW: 100 },
      { tS: 7, powerW: 100 },
    ];
    expect(() => integratePower(gappy, 0.5, 6.5)).toThrow(/gap.*5\.000 s/);
    // The same gap outside the window does not matter.
    expect(integratePower(gappy, 6, 7).energyJ).toBeCloseTo(100, 10);
    const threeS = [
      { tS: 0, powerW: 100 },
      { tS: 3, powerW: 100 },
    ];
    expect(integratePower(threeS, 0, 3).energyJ).toBeCloseTo(300, 10);
  });

  it('treats missing values as missing, not zero: a run of [N/A] is a gap', () => {
    const samples = [0, 1, 2, 3, 4, 5, 6].map((t) => ({ tS: t, powerW: t >= 2 && t <= 5 ? null : 100 }));
    const pts = toPowerPoints(samples);
    expect(pts.map((p) => p.tS)).toEqual([0, 1, 6]);
    expect(() => integratePower(pts, 0, 6)).toThrow(EnergyWindowError);
    // Had [N/A] been read as 0 W, the window would integrate to 100 + 50 + 50 = 200 J without error.
  });

  it('reports missed samples that stay under the gap limit', () => {
    const pts = [0, 1, 2, 4, 5].map((t) => ({ tS: t, powerW: 50 }));
    const r = integratePower(pts, 0, 5);
    expect(r.energyJ).toBeCloseTo(250, 10);
    expect(r.missedSamples).toEqual([{ fromS: 2, toS: 4, seconds: 2 }]);
  });
});

describe('gen-smi-1hz.csv against the NVML counter (gen-results.json, recorded on an H200)', () => {
  const trace = parseTrace(readFileSync(fixture('gen-smi-1hz.csv'), 'utf8'), { fields: GEN_FIELDS.split(','), tz: 'UTC', source: 'gen-smi-1hz.csv' });
  const windows = JSON.parse(readFileSync(fixture('gen-results.json'), 'utf8')) as { batch: number; joules: number; t0: number; t1: number }[];

  it('parses every line of the trace', () => {
    expect(trace.badLines).toEqual([]);
    expect(trace.samples).toHaveLength(64);
  });

  for (const batch of [1, 8, 32]) {
    it(`batch ${batch}: the aligned power.draw trapezoid is within 1% of the counter`, () => {
      const w = windows.find((x) => x.batch === batch)!;
      const r = traceEnergy(trace, { fromS: w.t0, toS: w.t1 }, 'gen');
      expect(r.alignS).toBe(POWER_DRAW_ALIGN_S);
      expect(Math.abs(r.energyJ - w.joules) / w.joules).toBeLessThan(0.01);
    });
  }

  it('batch 128: the window ends after the last sample and is reported as not covered', () => {
    const w = windows.find((x) => x.batch === 128)!;
    expect(() => traceEnergy(trace, { fromS: w.t0, toS: w.t1 }, 'gen')).toThrow(/not covered/);
    expect(() => traceEnergy(trace, { fromS: w.t0, toS: w.t1, alignS: 0 }, 'gen')).toThrow(/not covered/);
  });

  it('power.draw.instant is integrated unshifted and is worse than power.draw here (README: up to +9.5%)', () => {
    const w = windows.find((x) => x.batch === 32)!;
    const instant = traceEnergy(trace, { fromS: w.t0, toS: w.t1, powerField: 'power.draw.instant' }, 'gen');
    expect(instant.alignS).toBe(0);
    expect((instant.energyJ - w.joules) / w.joules).toBeGreaterThan(0.05);
  });
});

describe('several GPUs (smi-2gpu-1hz.csv)', () => {
  const fields = 'timestamp,index,name,uuid,power.draw,power.draw.instant,temperature.gpu,clocks.sm,utilization.gpu,memory.used,clocks_event_reasons.active';
  const trace = parseTrace(readFileSync(fixture('smi-2gpu-1hz.csv'), 'utf8'), { fields: fields.split(','), tz: 'UTC', source: '2gpu' });

  it('integrates each GPU and adds them up', () => {
    const both = traceEnergy(trace, { alignS: 0 }, '2gpu');
    const gpu0 = traceEnergy(trace, { alignS: 0, gpus: [0], fromS: both.fromS, toS: both.toS }, '2gpu');
    const gpu1 = traceEnergy(trace, { alignS: 0, gpus: [1], fromS: both.fromS, toS: both.toS }, '2gpu');
    expect(both.perGpu.map((g) => g.gpuIndex)).toEqual([0, 1]);
    expect(both.energyJ).toBeCloseTo(gpu0.energyJ + gpu1.energyJ, 9);
    expect(gpu0.energyJ).toBeGreaterThan(0);
  });

  it('names a GPU that is not in the trace', () => {
    expect(() => traceEnergy(trace, { gpus: [3] }, '2gpu')).toThrow(/no samples of GPU 3; it has GPU 0, 1/);
  });
});
