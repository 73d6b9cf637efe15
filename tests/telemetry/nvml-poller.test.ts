import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EnergyWindowError, InputError, TelemetryError } from '../../src/errors.js';
import { NvmlEnergyPoller } from '../../src/telemetry/nvml-poller.js';
import { nullNvml } from '../../src/telemetry/nvml.js';
import type { Nvml } from '../../src/telemetry/types.js';
import { type FakeNvmlConfig, openFakeNvml, removeFakeNvmlCopies } from '../helpers/fake-nvml.js';

const cleanups: (() => void)[] = [];
function openFake(config: FakeNvmlConfig): Nvml {
  const { nvml } = openFakeNvml(config);
  cleanups.push(() => nvml.shutdown());
  return nvml;
}
function poller(nvml: Nvml, gpuIndices: number[], rateHz?: number): NvmlEnergyPoller {
  const p = new NvmlEnergyPoller(nvml, rateHz === undefined ? { gpuIndices } : { gpuIndices, rateHz });
  cleanups.unshift(() => p.stop()); // stop polling before NVML shuts down
  return p;
}
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});
afterAll(() => removeFakeNvmlCopies());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function intervalsMs(p: NvmlEnergyPoller, gpuIndex: number): number[] {
  const tS = p.readings(gpuIndex).map((r) => r.tS);
  return tS.slice(1).map((t, i) => (t - tS[i]!) * 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('NvmlEnergyPoller', () => {
  it('polls every GPU at >= 10 Hz by default, and no faster than asked', async () => {
    const p = poller(openFake({ gpus: 2 }), [0, 1]);
    p.start();
    await sleep(1000);
    p.stop();
    for (const gpuIndex of [0, 1]) {
      // One reading at start() plus one per 100 ms: at least 10 inside the first second.
      expect(p.readings(gpuIndex).length).toBeGreaterThanOrEqual(10);
      expect(p.readings(gpuIndex).length).toBeLessThanOrEqual(12);
      const gaps = intervalsMs(p, gpuIndex);
      expect(median(gaps)).toBeGreaterThanOrEqual(95);
      expect(median(gaps)).toBeLessThanOrEqual(105);
    }
    const latency = p.readLatencyMs();
    expect(latency.count).toBe(p.readings(0).length + p.readings(1).length);
    expect(latency.meanMs).toBeGreaterThan(0);
    // An FFI call into the fake takes microseconds; 20 ms would mean a blocking or broken path.
    expect(latency.maxMs).toBeLessThan(20);
    expect(p.errors().count).toBe(0);
    console.info(`NVML read latency (koffi → fake lib): ${JSON.stringify(latency)}`);
  });

  it('honours a higher rate', async () => {
    const p = poller(openFake({}), [0], 40);
    p.start();
    await sleep(500);
    p.stop();
    expect(p.readings(0).length).toBeGreaterThanOrEqual(20);
    expect(median(intervalsMs(p, 0))).toBeLessThanOrEqual(30);
    const count = p.readings(0).length;
    await sleep(150);
    expect(p.readings(0).length).toBe(count); // stop() stops
  });

  it('computes the energy of a window from its edge readings and the readings between them', async () => {
    const p = poller(openFake({ gpus: 2, powerW: 200 }), [0, 1]);
    p.start();
    const from0 = p.read(0);
    const from1 = p.read(1);
    await sleep(550);
    const to0 = p.read(0);
    const to1 = p.read(1);
    p.stop();

    // start() took a reading in the same millisecond as `from0`: the numeric edge must pick the edge
    // reading (the newest with that tS), and passing the readings themselves gives the same window.
    expect(p.readings(0)[0]!.tS).toBeLessThanOrEqual(from0.tS);
    const window0 = p.energyBetweenJ(0, from0.tS, to0.tS);
    expect(p.energyBetweenJ(0, from0, to0)).toEqual(window0);
    // Without a reset the sum of the steps telescopes to the edge delta, exactly.
    expect(window0.energyJ).toBe(Number(to0.energyMj - from0.energyMj) / 1000);
    expect(window0.resetDetected).toBe(false);
    expect(window0.resetGapS).toBe(0);
    expect(window0.readings).toBeGreaterThanOrEqual(6); // 2 edges + ~5 background readings
    // And it is the fake's 200 W (GPU 1: 210 W) over the window: tS is Date.now() (1 ms floor) taken just
    // before a call of a few µs, so each edge is known to ~1 ms; 5 ms of slack per window is 1 J at 200 W.
    const durationS = to0.tS - from0.tS;
    expect(Math.abs(window0.energyJ - 200 * durationS)).toBeLessThanOrEqual(200 * 0.005);
    const window1 = p.energyBetweenJ(1, from1.tS, to1.tS);
    expect(Math.abs(window1.energyJ - 210 * (to1.tS - from1.tS))).toBeLessThanOrEqual(210 * 0.005);

    // A window between readings: the counter is interpolated at both edges (it used to take only the
    // readings inside, losing the energy between its last reading and its end: up to one period).
    // Off the 100 ms grid of the background reads (phase-locked to the edges), so no reading is within a
    // millisecond of either edge.
    const innerFrom = from0.tS + 0.155;
    const innerTo = to0.tS - 0.145;
    const series = p.readings(0);
    const inside = series.filter((r) => r.tS >= innerFrom && r.tS <= innerTo);
    expect(inside.length).toBeGreaterThanOrEqual(2);
    const interpolate = (tS: number): number => {
      const i = series.findIndex((r) => r.tS > tS);
      const a = series[i - 1]!;
      const b = series[i]!;
      return Number(a.energyMj) + ((Number(b.energyMj) - Number(a.energyMj)) * (tS - a.tS)) / (b.tS - a.tS);
    };
    const inner = p.energyBetweenJ(0, innerFrom, innerTo);
    expect(inner.energyJ).toBeCloseTo((interpolate(innerTo) - interpolate(innerFrom)) / 1000, 6);
    expect(inner.readings).toBe(inside.length + 2); // the bracketing readings too
    expect(inner).toMatchObject({ resetDetected: false, resetGapS: 0 });
    expect(Math.abs(inner.energyJ - 200 * (innerTo - innerFrom))).toBeLessThanOrEqual(200 * 0.005);
    expect(inner.energyJ).toBeGreaterThan(Number(inside.at(-1)!.energyMj - inside[0]!.energyMj) / 1000);
    // An edge from a clock with µs (the transformers runner's time.time()) just after the edge read's
    // whole-millisecond stamp is covered by that read, which was taken in [stamp, stamp + 1 ms).
    const edgeAfterStamp = p.energyBetweenJ(0, from0.tS, to0.tS + 0.0006);
    expect(edgeAfterStamp.energyJ).toBe(window0.energyJ);
    expect(() => p.energyBetweenJ(0, from0.tS, to0.tS + 0.0011)).toThrow(/no reading at or after its end/);
    // Mixed edges are refused.
    expect(() => p.energyBetweenJ(0, from0, to0.tS)).toThrow(/both edges as readings or both as times/);

    // Fewer than two readings in the window, or a reversed window, is an error, not a guess.
    expect(() => p.energyBetweenJ(0, to0.tS + 10, to0.tS + 20)).toThrow(EnergyWindowError);
    expect(() => p.energyBetweenJ(0, to0.tS, to0.tS + 20)).toThrow(/not covered by NVML counter readings: no reading at or after its end .* holds 1 NVML counter reading/);
    expect(() => p.energyBetweenJ(0, from0.tS - 5, to0.tS)).toThrow(/no reading at or before its start/);
    expect(() => p.energyBetweenJ(0, to0.tS, from0.tS)).toThrow(EnergyWindowError);
    expect(() => p.energyBetweenJ(0, to0, from0)).toThrow(EnergyWindowError);
    expect(() => p.energyBetweenJ(0, from1, to0)).toThrow(/`from` reading was not recorded/);
  });

  it('detects a counter reset and sums the monotonic segments across it', async () => {
    const nvml = openFake({ powerW: 100, resetAfterS: 0.45 });
    const p = poller(nvml, [0]);
    p.start();
    const from = p.read(0);
    await sleep(900);
    const to = p.read(0);
    p.stop();

    const resets = p.resets();
    expect(resets).toHaveLength(1);
    const reset = resets[0]!;
    expect(reset.gpuIndex).toBe(0);
    expect(reset.afterMj).toBeLessThan(reset.beforeMj);
    // The first reading after the reset comes within about one period: at 100 W that is ~10 J since 0.
    expect(reset.afterMj).toBeLessThan(100n * 250n);

    const series = p.readings(0);
    const after = series.findIndex((r) => r.tS === reset.tS && r.energyMj === reset.afterMj);
    const lastBefore = series[after - 1]!;
    const window = p.energyBetweenJ(0, from.tS, to.tS);
    expect(window.resetDetected).toBe(true);
    expect(window.resetGapS).toBeCloseTo(reset.tS - lastBefore.tS, 9);
    expect(window.resetGapS).toBeGreaterThan(0);
    expect(window.resetGapS).toBeLessThan(0.25);
    // Two segments: [from, last before the reset] and [first after it, to]; the step across counts 0.
    expect(window.energyJ).toBe(Number(lastBefore.energyMj - from.energyMj + (to.energyMj - reset.afterMj)) / 1000);
    // So it is 100 W over the window minus the gap (a lower bound of the true energy).
    const durationS = to.tS - from.tS;
    expect(Math.abs(window.energyJ - 100 * (durationS - window.resetGapS))).toBeLessThanOrEqual(100 * 0.01);
    expect(window.energyJ).toBeLessThan(100 * durationS);
  });

  it('validates its options and refuses a GPU without an energy counter', () => {
    const nvml = openFake({ gpus: 1 });
    expect(() => new NvmlEnergyPoller(nvml, { gpuIndices: [0], rateHz: 0.5 })).toThrow(InputError);
    expect(() => new NvmlEnergyPoller(nvml, { gpuIndices: [0], rateHz: 0.5 })).toThrow(
      'Expected `rateHz` to be an integer from 1 to 100, got 0.5 (number)',
    );
    expect(() => new NvmlEnergyPoller(nvml, { gpuIndices: [] })).toThrow(InputError);
    expect(() => new NvmlEnergyPoller(nvml, { gpuIndices: [0, 0] })).toThrow(InputError);
    expect(() => new NvmlEnergyPoller(nullNvml('no driver'), { gpuIndices: [0] })).toThrow(/no driver/);

    const p = poller(nvml, [0]);
    expect(() => p.read(1)).toThrow(InputError);
    p.start();
    expect(() => p.start()).toThrow(TelemetryError);

    const noEnergy = poller(openFake({ noEnergy: true }), [0]);
    expect(() => noEnergy.start()).toThrow(/no NVML total-energy counter/);
    expect(noEnergy.running).toBe(false);
  });
});
