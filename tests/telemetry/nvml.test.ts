import * as koffi from 'koffi';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InputError, TelemetryError } from '../../src/errors.js';
import { DEFAULT_NVML_LIBRARY, NVML_LIBRARY_ENV, NvmlError, openNvml, resolveNvmlLibraryPath } from '../../src/telemetry/nvml.js';
import type { Nvml } from '../../src/telemetry/types.js';
import {
  H100_NVML_TRACE,
  type OpenedFakeNvml,
  loadNvmlTrace,
  openFakeNvml,
  removeFakeNvmlCopies,
  traceCounterAt,
} from '../helpers/fake-nvml.js';

const opened: Nvml[] = [];
function open(config: Parameters<typeof openFakeNvml>[0]): OpenedFakeNvml {
  const result = openFakeNvml(config);
  opened.push(result.nvml);
  return result;
}
afterEach(() => {
  for (const nvml of opened.splice(0)) nvml.shutdown();
});
afterAll(() => removeFakeNvmlCopies());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A counter reading with the range of replay time it can belong to. Date.now() is a floor to the
 * millisecond, so the call happened in [beforeMs, afterMs + 1) and nvmlInit in [initBeforeMs,
 * initAfterMs + 1): the replay time lies strictly between `loS` and `hiS`.
 */
function bracketedRead(fake: OpenedFakeNvml) {
  const beforeMs = Date.now();
  const energyMj = fake.nvml.totalEnergyMj(0);
  const afterMs = Date.now();
  if (energyMj === null) throw new Error('no energy counter');
  return {
    energyMj,
    loS: (beforeMs - fake.initAfterMs - 1) / 1000,
    hiS: (afterMs + 1 - fake.initBeforeMs) / 1000,
  };
}

describe('openNvml through koffi against the fake libnvidia-ml', () => {
  it('reads the driver version, device count and name with the fake defaults', () => {
    const { nvml } = open({});
    expect(nvml.available).toBe(true);
    expect(nvml.unavailableReason).toBeNull();
    expect(nvml.driverVersion()).toBe('580.159.04');
    expect(nvml.deviceCount()).toBe(1);
    expect(nvml.deviceName(0)).toBe('NVIDIA H100 80GB HBM3');
  });

  it('passes the configuration through: several GPUs, a UTF-8 name, per-GPU power and temperature', () => {
    const { nvml } = open({ gpus: 3, name: 'Fäke GPU 141GB', driver: '999.12.3', powerW: 100 });
    expect(nvml.driverVersion()).toBe('999.12.3');
    expect(nvml.deviceCount()).toBe(3);
    expect(nvml.deviceName(2)).toBe('Fäke GPU 141GB');
    // The fake draws powerW + 10 W per index and reports 40 + index °C: the handle of index i reaches
    // device i, and mW / 1000 = W.
    expect([0, 1, 2].map((i) => nvml.powerW(i))).toEqual([100, 110, 120]);
    expect([0, 1, 2].map((i) => nvml.tempC(i))).toEqual([40, 41, 42]);
  });

  it('returns the uint64 energy counter as an exact bigint beyond 2^53', () => {
    // 2^60 + 7 is not representable as a double: a float anywhere on the path would change it.
    const baseMj = 2n ** 60n + 7n;
    const { nvml } = open({ powerW: 0, baseMj });
    expect(nvml.totalEnergyMj(0)).toBe(baseMj);
  });

  it('counts energy at the configured constant power', async () => {
    const fake = open({ powerW: 250, baseMj: 5_000_000_000n });
    const first = bracketedRead(fake);
    await sleep(300);
    const second = bracketedRead(fake);
    // counter = base + 250 W × elapsed: with the replay-time brackets, the readings must lie in
    // [base + 250 000 mW × lo, base + 250 000 mW × hi] (the fake truncates to whole mJ, hence the floor).
    for (const r of [first, second]) {
      expect(r.energyMj).toBeGreaterThanOrEqual(5_000_000_000n + BigInt(Math.floor(250_000 * Math.max(0, r.loS))));
      expect(r.energyMj).toBeLessThanOrEqual(5_000_000_000n + BigInt(Math.ceil(250_000 * r.hiS)));
    }
    const deltaJ = Number(second.energyMj - first.energyMj) / 1000;
    expect(deltaJ).toBeGreaterThan(250 * 0.25);
    expect(deltaJ).toBeLessThan(250 * 0.6);
  });

  it('replays the recorded H100 counter trace in real time, power from its slope', async () => {
    const trace = loadNvmlTrace(H100_NVML_TRACE);
    const fake = open({ tracePath: H100_NVML_TRACE });
    // Within the first second the fake reports the trace's first-second average: (V(1 s) − V(0)) mJ/s.
    const powerW = fake.nvml.powerW(0);
    expect(Date.now() - fake.initBeforeMs).toBeLessThan(1000);
    expect(powerW).toBeCloseTo(Number(traceCounterAt(trace, 1) - traceCounterAt(trace, 0)) / 1000, 3);

    const readings = [bracketedRead(fake)];
    while (readings.at(-1)!.loS < 0.55) {
      await sleep(40);
      readings.push(bracketedRead(fake));
    }
    // Each absolute counter value must be the trace's value at some instant inside its bracket. The trace
    // is monotonic, so that is V(lo) <= reading <= V(hi). Brackets are a few ms wide while the counter
    // moves in ~13 J steps every ~100 ms, so a replay that ran early or late by one step, interpolated
    // instead of holding, or started from the wrong row fails here.
    for (const r of readings) {
      expect(r.hiS - r.loS).toBeLessThan(0.05);
      expect(r.energyMj).toBeGreaterThanOrEqual(traceCounterAt(trace, r.loS));
      expect(r.energyMj).toBeLessThanOrEqual(traceCounterAt(trace, r.hiS));
    }
    // The delta over ~0.5 s equals the trace's delta over the same span; the tolerance is the counter
    // change inside the two edge brackets (0 or one step each), nothing else.
    const first = readings[0]!;
    const last = readings.at(-1)!;
    const deltaMj = last.energyMj - first.energyMj;
    expect(deltaMj).toBeGreaterThanOrEqual(traceCounterAt(trace, last.loS) - traceCounterAt(trace, first.hiS));
    expect(deltaMj).toBeLessThanOrEqual(traceCounterAt(trace, last.hiS) - traceCounterAt(trace, first.loS));
    expect(deltaMj).toBeGreaterThan(0n); // the trace draws ~130 W: 0.5 s is several steps
  });

  it('turns NVML_ERROR_NOT_SUPPORTED into null, not 0, for that reading only', () => {
    const { nvml } = open({ noEnergy: true });
    expect(nvml.available).toBe(true);
    expect(nvml.totalEnergyMj(0)).toBeNull();
    expect(nvml.powerW(0)).toBe(100);
  });

  it('maps other NVML errors to an NvmlError (a TelemetryError) with the nvmlErrorString text', () => {
    const { nvml, libraryPath } = open({});
    expect(nvml.totalEnergyMj(0)).not.toBeNull(); // caches the device handle
    // Shut the library down behind the wrapper's back: the next call returns NVML_ERROR_UNINITIALIZED (1).
    const nvmlShutdown = koffi.load(libraryPath).func('nvmlShutdown', 'int', []) as () => number;
    expect(nvmlShutdown()).toBe(0);
    let thrown: unknown;
    try {
      nvml.totalEnergyMj(0);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NvmlError);
    expect(thrown).toBeInstanceOf(TelemetryError);
    expect((thrown as NvmlError).nvmlReturn).toBe(1);
    expect((thrown as NvmlError).message).toBe(
      'nvmlDeviceGetTotalEnergyConsumption(gpu 0) failed: NVML_ERROR_UNINITIALIZED (1): Uninitialized',
    );
    opened.splice(opened.indexOf(nvml), 1); // already shut down in C; the wrapper's shutdown would throw
  });

  it('rejects an unknown GPU index and use after shutdown', () => {
    const { nvml } = open({ gpus: 2 });
    expect(() => nvml.totalEnergyMj(2)).toThrow(InputError);
    expect(() => nvml.deviceName(-1)).toThrow(InputError);
    nvml.shutdown();
    nvml.shutdown(); // idempotent
    expect(nvml.deviceCount()).toBe(0);
    expect(() => nvml.totalEnergyMj(0)).toThrow(/shut down/);
  });

  it('gives the null implementation when nvmlInit_v2 fails, with the NVML error text', () => {
    const { nvml, libraryPath } = open({ initError: 9 });
    expect(nvml.available).toBe(false);
    expect(nvml.unavailableReason).toContain('NVML_ERROR_DRIVER_NOT_LOADED (9): Driver Not Loaded');
    expect(nvml.unavailableReason).toContain(libraryPath);
    expect(nvml.deviceCount()).toBe(0);
    expect(nvml.driverVersion()).toBeNull();
    expect(nvml.deviceName(0)).toBeNull();
    expect(nvml.totalEnergyMj(0)).toBeNull();
    expect(nvml.powerW(0)).toBeNull();
    expect(nvml.tempC(0)).toBeNull();
  });

  it('gives the null implementation naming the path when the library cannot be loaded', () => {
    const missing = '/nonexistent/carbonbench/libnvidia-ml.so.1';
    const nvml = openNvml({ libraryPath: missing });
    expect(nvml.available).toBe(false);
    expect(nvml.unavailableReason).toContain(`"${missing}"`);
    expect(nvml.unavailableReason).toMatch(/No such file|cannot open/i);
    expect(nvml.totalEnergyMj(0)).toBeNull();
  });

  it(`takes the library path from the option, then $${NVML_LIBRARY_ENV}, then ${DEFAULT_NVML_LIBRARY}`, () => {
    const saved = process.env[NVML_LIBRARY_ENV];
    try {
      process.env[NVML_LIBRARY_ENV] = '/from/env/libnvidia-ml.so.1';
      expect(resolveNvmlLibraryPath({ libraryPath: '/from/option.so' })).toBe('/from/option.so');
      expect(resolveNvmlLibraryPath()).toBe('/from/env/libnvidia-ml.so.1');
      expect(openNvml().unavailableReason).toContain('/from/env/libnvidia-ml.so.1');
      delete process.env[NVML_LIBRARY_ENV];
      expect(resolveNvmlLibraryPath()).toBe(DEFAULT_NVML_LIBRARY);
    } finally {
      if (saved === undefined) delete process.env[NVML_LIBRARY_ENV];
      else process.env[NVML_LIBRARY_ENV] = saved;
    }
  });
});
