/**
 * The NVML background rate (issue 7, decision 40): auto picks the highest of 10/5/2/1 Hz whose reads fit
 * the CPU budget, from the measured cost of a read, and the background reads are phase-locked to the
 * latest window edge so that every 1 s segment boundary of a window gets a reading. End to end through
 * openRealTelemetry: the fake nvidia-smi and the fake libnvidia-ml with a real read cost (nanosleep).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { NvmlEnergyPoller, chooseNvmlRateHz, nvmlPollingPlan } from '../../src/telemetry/nvml-poller.js';
import { openRealTelemetry, type TelemetrySession } from '../../src/telemetry/session.js';
import { fakeNvmlCopy, openFakeNvml, removeFakeNvmlCopies, withFakeNvmlEnv } from '../helpers/fake-nvml.js';
import { FAKE_SMI, fixture } from '../helpers/paths.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  delete process.env.FAKE_SMI_TRACE;
  delete process.env.FAKE_SMI_TRACE_FIELDS;
});
afterAll(() => removeFakeNvmlCopies());

describe('chooseNvmlRateHz', () => {
  it('keeps 10 Hz where a read is cheap and lowers the rate where reads would cost over 0.5% of a core', () => {
    expect(chooseNvmlRateHz(0.002, 1)).toMatchObject({ rateHz: 10 });
    expect(chooseNvmlRateHz(0.002, 1).reason).toMatch(/^auto: 10 Hz \(one counter read costs 0\.0020 ms/);
    // 10 Hz × 0.5 ms = 0.5% of a core: exactly the budget.
    expect(chooseNvmlRateHz(0.5, 1)).toMatchObject({ rateHz: 10, expectedCoreFraction: 0.005 });
    expect(chooseNvmlRateHz(0.9, 1)).toMatchObject({ rateHz: 5 });
    expect(chooseNvmlRateHz(2, 1)).toMatchObject({ rateHz: 2, expectedCoreFraction: 0.004 });
    // The H100 (driver 580): ~3.9 ms of kernel CPU per read → 1 Hz, 0.39% of a core instead of 3.9%.
    const h100 = chooseNvmlRateHz(3.9, 1);
    expect(h100.rateHz).toBe(1);
    expect(h100.expectedCoreFraction).toBeCloseTo(0.0039, 12);
    expect(h100.reason).toMatch(/^auto: 1 Hz, not 10 \(one counter read costs 3\.90 ms; 10 Hz would take 3\.90% of a core, over the 0\.5% of a core budget\); phase-locked/);
    // The budget is for all GPUs together: 4 GPUs at 0.5 ms fit only 2 Hz.
    expect(chooseNvmlRateHz(0.5, 4)).toMatchObject({ rateHz: 2 });
    // Nothing fits: 1 Hz, the least that still reads every segment boundary, said so.
    const eight = chooseNvmlRateHz(3.9, 8);
    expect(eight.rateHz).toBe(1);
    expect(eight.reason).toMatch(/the minimum .* even 1 Hz takes 3\.12% of a core/);
  });

  it('refuses nonsense', () => {
    expect(() => chooseNvmlRateHz(-1, 1)).toThrow(InputError);
    expect(() => chooseNvmlRateHz(Number.NaN, 1)).toThrow('Expected `readCostMs` to be a finite number >= 0');
    expect(() => chooseNvmlRateHz(1, 0)).toThrow('Expected `gpuCount` to be an integer >= 1, got 0 (number)');
  });

  it('a configured rate is kept, with its expected cost', () => {
    const plan = nvmlPollingPlan(5, 3.9, 1);
    expect(plan).toMatchObject({ rateHz: 5, readCostMs: 3.9 });
    expect(plan.expectedCoreFraction).toBeCloseTo(0.0195, 12);
    expect(plan.reason).toBe('5 Hz as configured (energy.nvml_hz; one counter read costs 3.90 ms)');
  });
});

describe('NvmlEnergyPoller phase lock', () => {
  it('aims its background reads at edge + k / rateHz after every edge', async () => {
    const { nvml } = openFakeNvml({});
    const p = new NvmlEnergyPoller(nvml, { gpuIndices: [0], rateHz: 2 });
    cleanups.push(() => nvml.shutdown(), () => p.stop());
    expect(() => new NvmlEnergyPoller(nvml, { gpuIndices: [0], rateHz: 2.5 })).toThrow('Expected `rateHz` to be an integer from 1 to 100, got 2.5 (number)');
    expect(() => new NvmlEnergyPoller(nvml, { gpuIndices: [0], rateHz: 0 })).toThrow(InputError);
    expect(() => new NvmlEnergyPoller(nvml, { gpuIndices: [0], rateHz: 101 })).toThrow(InputError);
    p.start();
    // An edge off the start's grid (350 ms is neither a multiple of 500 ms nor near one).
    await sleep(350);
    const [edge] = p.readEdge();
    await sleep(1_300);
    p.stop();
    const after = p.readings(0).filter((r) => r.tS > edge!.tS);
    expect(after.length).toBe(2);
    // Background reads run on a worker thread and are stamped at the midpoint of their call: microseconds
    // for the fake. Timers on a loaded 2-core machine fire late by a few ms (up to tens under load); the
    // old grid (start + k × 500 ms) would put them at 0.15 and 0.65 s after the edge.
    const offsetsS = after.map((r) => r.tS - edge!.tS);
    expect(offsetsS[0]).toBeGreaterThanOrEqual(0.499);
    expect(offsetsS[0]).toBeLessThan(0.6);
    expect(offsetsS[1]).toBeGreaterThanOrEqual(0.999);
    expect(offsetsS[1]).toBeLessThan(1.1);
  });
});

describe('openRealTelemetry: the background rate', () => {
  async function open(config: { readUs?: number }, nvmlHz?: number | 'auto'): Promise<TelemetrySession> {
    process.env.FAKE_SMI_TRACE = fixture('h100-varying-load-smi-1hz.csv');
    process.env.FAKE_SMI_TRACE_FIELDS = 'timestamp,power.draw,power.draw.instant';
    // An empty sysfs: no RAPL or hwmon, so only the GPU is measured.
    const sysfsRoot = mkdtempSync(join(tmpdir(), 'cb-sysfs-'));
    cleanups.push(() => rmSync(sysfsRoot, { recursive: true, force: true }));
    const session = await withFakeNvmlEnv(config, () =>
      openRealTelemetry({ nvidiaSmi: FAKE_SMI, nvmlLib: fakeNvmlCopy(), sysfsRoot, ...(nvmlHz !== undefined ? { nvmlHz } : {}) }),
    );
    cleanups.push(() => session.stop());
    return session;
  }

  it('auto: a 4 ms read (an H100) gives 1 Hz, phase-locked to the window edge, and says why', async () => {
    const session = await open({ readUs: 4000 });
    expect(session.energySource).toBe('nvml');
    const polling = session.nvmlPolling!;
    expect(polling.rateHz).toBe(1);
    expect(polling.readCostMs).toBeGreaterThanOrEqual(4);
    expect(polling.readCostMs).toBeLessThan(40);
    expect(polling.reason).toMatch(/^auto: 1 Hz, not 10 \(one counter read costs \d+\.\d\d ms/);
    const fromS = session.meter.markEdge();
    await sleep(2_300);
    const toS = session.meter.markEdge();
    // Edge, two background reads at about +1 s and +2 s (each taking 4 ms, stamped at its midpoint), edge.
    const segments = [{ fromS, toS: fromS + 1 }, { fromS: fromS + 1, toS: fromS + 2 }];
    const energies = session.meter.segmentEnergies(segments);
    expect(energies.every((e) => e !== null && e > 0)).toBe(true);
    const m = await session.meter.measure('w', fromS, toS);
    expect(m.energySource).toBe('nvml');
    // The window is bracketed: the reading before its start, the two background ones, the edge read after
    // its end (markEdge returns the time before its reads).
    expect(m.nvmlReadings).toBeGreaterThanOrEqual(4);
    expect(m.nvmlReadings).toBeLessThanOrEqual(5);
    // The whole window at the fake's 100 W: the last 0.3 s after the last background read are counted
    // (interpolated up to the edge read), not lost.
    expect(Math.abs(m.energyJ - 100 * (toS - fromS))).toBeLessThanOrEqual(100 * 0.01);
  });

  it('auto: a cheap read keeps DESIGN\'s 10 Hz; a configured rate wins', async () => {
    const fast = await open({});
    expect(fast.nvmlPolling).toMatchObject({ rateHz: 10 });
    expect(fast.nvmlPolling!.reason).toMatch(/^auto: 10 Hz/);
    await fast.stop();
    cleanups.length = 0;
    const configured = await open({ readUs: 4000 }, 5);
    expect(configured.nvmlPolling).toMatchObject({ rateHz: 5 });
    expect(configured.nvmlPolling!.reason).toMatch(/^5 Hz as configured/);
  });
});
