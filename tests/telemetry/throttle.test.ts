/**
 * summarizeThrottling over a window: the union of slowdown reasons, how many samples were throttled,
 * and how many had no bitmask at all (unknown, not "not throttled").
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseBitmask, parseTrace } from '../../src/telemetry/smi-parse.js';
import { summarizeThrottling } from '../../src/telemetry/throttle.js';
import type { GpuSample } from '../../src/telemetry/types.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/h200/', import.meta.url));

/** A sample whose clocks_event_reasons.active is `mask` exactly as nvidia-smi prints it. */
function sample(mask: string, gpuIndex = 0): GpuSample {
  return {
    tS: 0,
    gpuIndex,
    powerW: 300,
    powerInstantW: null,
    tempC: 60,
    memTempC: null,
    smClockMhz: 1980,
    memClockMhz: null,
    fanPct: null,
    utilPct: 100,
    memUsedMib: null,
    eventReasons: parseBitmask(mask),
  };
}

describe('summarizeThrottling', () => {
  it('unions the reasons, counts throttled samples once each, and counts missing masks as unknown', () => {
    const summary = summarizeThrottling([
      sample('0x0000000000000001'), // GPU idle: not throttling
      sample('0x0000000000000004'), // SW power cap
      sample('0x0000000000000044'), // SW power cap + HW thermal slowdown
      sample('[N/A]'),
      sample('0x0000000000000000'),
      sample('0x0000000000000020', 1), // SW thermal slowdown, another GPU
      sample('[Not Supported]'),
      sample('0x0000000000000080'), // HW power brake
      sample('0x0000000000000010'), // sync boost: not throttling
    ]);
    expect(summary.throttled).toBe(true);
    expect([...summary.reasons].sort()).toEqual(['hwPowerBrakeSlowdown', 'hwThermalSlowdown', 'swPowerCap', 'swThermalSlowdown']);
    expect(summary.reasons).toHaveLength(4); // swPowerCap appears twice, reported once
    expect(summary.throttledSamples).toBe(4);
    expect(summary.unknownSamples).toBe(2);
  });

  it('reports no throttling for idle and clean masks', () => {
    expect(summarizeThrottling([sample('0x0000000000000001'), sample('0x0000000000000000'), sample('0x0000000000000002')])).toEqual({
      throttled: false,
      reasons: [],
      throttledSamples: 0,
      unknownSamples: 0,
    });
  });

  it('does not call a window without any mask unthrottled-and-known', () => {
    expect(summarizeThrottling([sample('[N/A]'), sample('[N/A]')])).toEqual({ throttled: false, reasons: [], throttledSamples: 0, unknownSamples: 2 });
    expect(summarizeThrottling([])).toEqual({ throttled: false, reasons: [], throttledSamples: 0, unknownSamples: 0 });
  });

  it('finds no throttling in the real idle 2-GPU H100 recording (every mask is 0x1, GPU idle)', () => {
    const { samples, badLines } = parseTrace(readFileSync(`${FIXTURES}smi-2gpu-1hz.csv`, 'utf8'), {
      fields: 'timestamp,index,name,uuid,power.draw,power.draw.instant,temperature.gpu,clocks.sm,utilization.gpu,memory.used,clocks_event_reasons.active'.split(','),
      tz: 'UTC',
      source: 'smi-2gpu-1hz.csv',
    });
    expect(badLines).toEqual([]);
    expect(samples).toHaveLength(8);
    expect(samples.every((s) => s.eventReasons === 0x1n)).toBe(true);
    expect(summarizeThrottling(samples)).toEqual({ throttled: false, reasons: [], throttledSamples: 0, unknownSamples: 0 });
  });
});

describe('real H100 bitmasks (bench/gpu/results/h100-energy-check-trace.csv)', () => {
  it('sustained load at the 700 W limit is flagged as SW power cap; idle (0x1) is not throttling', async () => {
    const lines = readFileSync(new URL('../../bench/gpu/results/h100-energy-check-trace.csv', import.meta.url), 'utf8').trim().split('\n').slice(1);
    const samples = lines.map((l) => {
      const c = l.split(',');
      return { tS: Number(c[0]), gpuIndex: 0, powerW: Number(c[2]), powerInstantW: null, tempC: Number(c[4]), memTempC: null, smClockMhz: null, memClockMhz: null, fanPct: null, utilPct: null, memUsedMib: null, eventReasons: BigInt(c[11]!) };
    });
    const atLimit = samples.filter((s) => s.powerW > 650);
    const idle = samples.filter((s) => s.eventReasons === 1n);
    expect(atLimit.length).toBeGreaterThan(10);
    expect(summarizeThrottling(atLimit)).toMatchObject({ throttled: true, reasons: ['swPowerCap'] });
    expect(idle.length).toBeGreaterThan(10);
    expect(summarizeThrottling(idle)).toMatchObject({ throttled: false, reasons: [] });
  });
});
