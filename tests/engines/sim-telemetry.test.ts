import { describe, expect, it } from 'vitest';
import { SIM_HARDWARE } from '../../src/engines/sim-model.js';
import { advanceUntil, openSimTelemetry, simDevice } from '../../src/engines/sim-telemetry.js';
import { VirtualClock } from '../../src/runner/clock.js';
import { cooldownGate } from '../../src/telemetry/cooldown.js';
import type { GpuSample } from '../../src/telemetry/types.js';
import { ThermalAbort, watchTemperature } from '../../src/telemetry/watchdog.js';

const T0 = 1_800_000_000;

describe('VirtualClock.onAdvance', () => {
  it('steps at most 1 s at a time while observed and lands exactly where a plain jump would', async () => {
    const plain = new VirtualClock(T0 + 0.3);
    await plain.sleep(3_700);
    const observed = new VirtualClock(T0 + 0.3);
    const steps: [number, number][] = [];
    const off = observed.onAdvance((from, to) => steps.push([from, to]));
    await observed.sleep(3_700);
    expect(observed.now()).toBe(plain.now());
    expect(steps.map(([from, to]) => to - from).map((d) => Math.round(d * 1000))).toEqual([1000, 1000, 1000, 700]);
    off();
    observed.advance(10);
    expect(steps).toHaveLength(4);
  });

  it('a listener that aborts the signal cuts the sleep short, with the signal reason', async () => {
    const clock = new VirtualClock(T0);
    const controller = new AbortController();
    clock.onAdvance((_f, to) => {
      if (to >= T0 + 3) controller.abort(new Error('hot'));
    });
    await expect(clock.sleep(60_000, controller.signal)).rejects.toThrow('hot');
    expect(clock.now()).toBe(T0 + 3);
  });
});

describe('sim telemetry', () => {
  it('emits 1 Hz samples in time order as the clock advances and keeps them', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, hardware: 'h100-sxm', autoAdvance: false });
    const seen: GpuSample[] = [];
    tel.onSample((s) => seen.push(s));
    expect(tel.collected()).toHaveLength(1); // the sample at open
    await clock.sleep(5_500);
    expect(seen.map((s) => s.tS - T0)).toEqual([1, 2, 3, 4, 5]);
    expect(tel.collected().map((s) => s.tS - T0)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(tel.collected({ fromS: T0 + 2, toS: T0 + 3 })).toHaveLength(2);
    const idle = seen[0]!;
    expect(idle).toMatchObject({ gpuIndex: 0, powerW: 71, powerInstantW: 71, tempC: 33, smClockMhz: 345, memClockMhz: 2619, fanPct: null, utilPct: 0, memUsedMib: 0, eventReasons: 0x1n });
    expect(tel.energySource).toBe('sim');
    expect(tel.identity.gpus[0]).toMatchObject({ name: 'NVIDIA H100 80GB HBM3', powerLimitW: 700 });
    await tel.stop();
    await clock.sleep(3_000);
    expect(seen).toHaveLength(5);
  });

  it('reports [N/A] where the DGX Spark does', () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, autoAdvance: false });
    const s = tel.collected()[0]!;
    expect(s).toMatchObject({ powerW: 30, memTempC: null, memUsedMib: null, memClockMhz: null, fanPct: null });
    expect(tel.identity.gpus[0]!.name).toBe('NVIDIA GB10');
  });

  it('power.draw is the trailing one-second mean; instant power is the value at the sample', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, hardware: 'h100-sxm', autoAdvance: false });
    const board = simDevice(clock, 0);
    await clock.sleep(2_000);
    clock.advance(0.25);
    board.set({ label: 'serving', powerW: 471, utilPct: 90, memUsedMib: 20_000 });
    await clock.sleep(2_750);
    const [s3, s4] = tel.collected({ fromS: T0 + 3 });
    // Sample at T0+3 averages [T0+2, T0+3]: 0.25 s idle (71 W) + 0.75 s at 471 W = 371 W.
    expect(s3!.powerW).toBeCloseTo(371, 2);
    expect(s3!.powerInstantW).toBe(471);
    expect(s4!.powerW).toBe(471);
    expect(s4).toMatchObject({ utilPct: 90, memUsedMib: 20_000, smClockMhz: 1980, eventReasons: 0n });
  });

  it('temperature rises with power and relaxes toward ambient with the two time constants', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, hardware: 'h100-sxm', autoAdvance: false });
    const board = simDevice(clock, 0);
    const th = SIM_HARDWARE['h100-sxm'].thermal;
    board.set({ label: 'serving', powerW: 700, utilPct: 100, memUsedMib: 1000 });
    await clock.sleep(600_000);
    const temps = tel.collected().map((s) => s.tempC!);
    for (let i = 1; i < temps.length; i++) expect(temps[i]!).toBeGreaterThanOrEqual(temps[i - 1]!);
    // Steady state: ambient + (R_fast + R_slow) × 700 W.
    const hot = th.ambientC + (th.fastCPerW + th.slowCPerW) * 700;
    expect(temps.at(-1)).toBe(Math.round(hot));
    // Within seconds the die pole has risen; the heat-sink pole is still far from steady state.
    const at = (s: number) => tel.collected({ fromS: T0 + s, toS: T0 + s })[0]!.tempC!;
    expect(at(5)).toBeGreaterThan(33 + 0.8 * th.fastCPerW * (700 - 71));
    expect(at(5)).toBeLessThan(hot - 10);
    // Exact two-pole value after 30 s (one slow time constant).
    const fast = th.fastCPerW * 700 + (th.fastCPerW * 71 - th.fastCPerW * 700) * Math.exp(-30 / th.fastTauS);
    const slow = th.slowCPerW * 700 + (th.slowCPerW * 71 - th.slowCPerW * 700) * Math.exp(-30 / th.slowTauS);
    expect(at(30)).toBe(Math.round(th.ambientC + fast + slow));
    // At the TDP: the SW power cap bit and the capped clock, as the real H100 trace shows.
    expect(tel.collected().at(-1)).toMatchObject({ eventReasons: 0x4n, smClockMhz: 1350 });

    board.set(board.idleState());
    const coolFrom = clock.now();
    await clock.sleep(600_000);
    const cooling = tel.collected({ fromS: coolFrom + 1 }).map((s) => s.tempC!);
    for (let i = 1; i < cooling.length; i++) expect(cooling[i]!).toBeLessThanOrEqual(cooling[i - 1]!);
    expect(cooling.at(-1)).toBe(33);
  });

  it('an injected 86 °C spike aborts a sleep through the unchanged thermal watchdog within one sample', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, autoAdvance: false, faults: { tempSpike: { atS: T0 + 7.5 } } });
    const dog = watchTemperature(tel, 85);
    const err = await clock.sleep(60_000, dog.signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThermalAbort);
    expect((err as ThermalAbort).sample).toMatchObject({ tS: T0 + 8, tempC: 86 });
    expect(clock.now()).toBe(T0 + 8);
    expect(dog.maxTempC()).toBe(86);
    dog.stop();
    // Only that one sample spiked.
    await clock.sleep(3_000);
    expect(tel.collected({ fromS: T0 + 9 }).every((s) => s.tempC! < 85)).toBe(true);
  });

  it('the energy meter over the sim samples matches the board power × time within 0.5%', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, hardware: 'h100-sxm', autoAdvance: false });
    const board = simDevice(clock, 0);
    await clock.sleep(3_000);
    board.set({ label: 'serving', powerW: 612.5, utilPct: 86, memUsedMib: 20_000 });
    await clock.sleep(3_300); // warm-up; the window is not aligned with the samples
    const fromS = clock.now();
    await clock.sleep(12_400);
    const toS = clock.now();
    const m = await tel.meter.measure('w', fromS, toS);
    expect(clock.now()).toBeGreaterThan(toS); // waiting for the closing sample advanced the clock
    expect(m.energySource).toBe('nvidia-smi');
    expect(Math.abs(m.energyJ / (612.5 * (toS - fromS)) - 1)).toBeLessThan(0.005);
    expect(Math.abs(m.energyJ / board.energyJ(fromS, toS) - 1)).toBeLessThan(0.005);
  });

  it('with per-second power jitter the meter still matches the exact integral within 0.5% over 20 s', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, hardware: 'dgx-spark', autoAdvance: false });
    const board = simDevice(clock, 0);
    const origin = clock.now() + 0.4;
    clock.advance(0.4);
    board.set({ label: 'serving', powerW: 100, utilPct: 99, memUsedMib: 0 }, { jitter: { originS: origin, factor: (k) => 1 + 0.05 * Math.sin(k * 1.7) } });
    await clock.sleep(4_000);
    const fromS = clock.now();
    await clock.sleep(20_000);
    const m = await tel.meter.measure('w', fromS, clock.now() - 0);
    expect(Math.abs(m.energyJ / board.energyJ(fromS, m.toS) - 1)).toBeLessThan(0.005);
    const powers = tel.collected({ fromS, toS: m.toS }).map((s) => s.powerW!);
    expect(new Set(powers).size).toBeGreaterThan(5);
  });

  it('waitForSampleAfter moves the clock to the sample it waits for', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, autoAdvance: false });
    await tel.waitForSampleAfter(T0 + 2.2);
    expect(clock.now()).toBe(T0 + 3);
    expect(tel.collected().at(-1)!.tS).toBe(T0 + 3);
    await tel.waitForSampleAfter(T0 + 1);
    expect(clock.now()).toBe(T0 + 3);
  });

  it('lets the unchanged cooldown gate open: auto-advance cools the board while the gate waits', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, hardware: 'dgx-spark', initialTempC: 75 });
    const started = Date.now();
    const r = await cooldownGate(tel, { cooldownTempC: 50, idlePowerW: new Map([[0, 30]]), maxS: 30, gpus: [0] });
    expect(r).toMatchObject({ reachedTarget: true, reason: 'cool' });
    expect(r.startTempC).toBeLessThanOrEqual(50);
    expect(Date.now() - started).toBeLessThan(2_000);
    // Deterministic: from 75 °C the board needs this many simulated seconds to reach 50 °C.
    const waitedS = clock.now() - T0;
    expect(waitedS).toBeGreaterThan(10);
    const again = new VirtualClock(T0);
    const tel2 = openSimTelemetry({ clock: again, hardware: 'dgx-spark', initialTempC: 75 });
    await cooldownGate(tel2, { cooldownTempC: 50, idlePowerW: new Map([[0, 30]]), maxS: 30, gpus: [0] });
    expect(again.now() - T0).toBe(waitedS);
    await tel.stop();
    await tel2.stop();
  });

  it('advanceUntil drives a sample-driven promise when auto-advance is off', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, hardware: 'dgx-spark', initialTempC: 60, autoAdvance: false });
    let done = false;
    const gate = cooldownGate(tel, { cooldownTempC: 50, idlePowerW: new Map([[0, 30]]), maxS: 30, gpus: [0] }).then((r) => {
      done = true;
      return r;
    });
    const advancedS = await advanceUntil(clock, () => done, { maxS: 600 });
    expect((await gate).reachedTarget).toBe(true);
    expect(advancedS).toBeGreaterThan(0);
    expect(advancedS).toBeLessThan(600);
  });

  it('gives each GPU its own board and sample', async () => {
    const clock = new VirtualClock(T0);
    const tel = openSimTelemetry({ clock, gpus: [0, 1], hardware: 'h200', autoAdvance: false });
    simDevice(clock, 1).set({ label: 'serving', powerW: 400, utilPct: 80, memUsedMib: 1 });
    await clock.sleep(2_000);
    const last = tel.collected({ fromS: T0 + 2 });
    expect(last.map((s) => [s.gpuIndex, s.powerW])).toEqual([
      [0, 80],
      [1, 400],
    ]);
  });
});
