/**
 * The energy meter end to end: the real nvidia-smi sampler reading the fake nvidia-smi, and NVML through
 * the real FFI path reading the fake libnvidia-ml — both replaying the same recorded H100 run
 * (h100-varying-load-*: load changing every few seconds), started together so their clocks line up.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { EnergyWindowError } from '../../src/errors.js';
import { EnergyMeter, type PowerSampleStore } from '../../src/energy/meter.js';
import { NvmlEnergyPoller } from '../../src/telemetry/nvml-poller.js';
import { SmiSampler } from '../../src/telemetry/smi-sampler.js';
import type { GpuSample } from '../../src/telemetry/types.js';
import { H100_NVML_TRACE, loadNvmlTrace, openFakeNvml, removeFakeNvmlCopies, traceCounterAt } from '../helpers/fake-nvml.js';
import { FAKE_SMI, fixture } from '../helpers/paths.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

afterAll(() => removeFakeNvmlCopies());

describe('EnergyMeter on replayed H100 telemetry', () => {
  it('a 10 s window: NVML counter is the figure, nvidia-smi agrees within 2%, both over the same interval', async () => {
    process.env.FAKE_SMI_TRACE = fixture('h100-varying-load-smi-1hz.csv');
    process.env.FAKE_SMI_TRACE_FIELDS = 'timestamp,power.draw,power.draw.instant';
    let sampler: SmiSampler | null = null;
    let poller: NvmlEnergyPoller | null = null;
    try {
      sampler = await SmiSampler.create({ executable: FAKE_SMI });
      await sampler.start(); // resolves at the first sample: the smi replay's origin
      const { nvml, initAfterMs } = openFakeNvml({ tracePath: H100_NVML_TRACE }); // the NVML replay's origin
      poller = new NvmlEnergyPoller(nvml, { gpuIndices: [0] });
      poller.start();
      const meter = new EnergyMeter({ gpus: [0], smi: sampler, nvml: poller });

      await sleep(2500);
      meter.beginWindow('w');
      expect(() => meter.beginWindow('w')).toThrow(/already open/);
      await sleep(10_000);
      const m = await meter.endWindow('w');

      expect(m.energySource).toBe('nvml');
      expect(m.durationS).toBeGreaterThan(9.9);
      expect(m.nvmlJ).not.toBeNull();
      expect(m.smiJ).not.toBeNull();
      expect(m.energyJ).toBe(m.nvmlJ);
      expect(Math.abs(m.smiVsNvmlRel!)).toBeLessThan(0.02);
      expect(m.smiSamples).toBeGreaterThanOrEqual(9);
      expect(m.nvmlReadings).toBeGreaterThanOrEqual(90); // 10 Hz polling plus the two edge reads
      expect(m.meanPowerW).toBeCloseTo(m.energyJ / m.durationS, 9);
      expect(m.samples.length).toBeGreaterThanOrEqual(10);

      // Independent oracle: the recorded counter over the same span of the recording (±1 poll step).
      const trace = loadNvmlTrace();
      const originS = initAfterMs / 1000;
      const expectedJ = Number(traceCounterAt(trace, m.toS - originS) - traceCounterAt(trace, m.fromS - originS)) / 1000;
      expect(Math.abs(m.nvmlJ! - expectedJ) / expectedJ).toBeLessThan(0.02);

      await expect(meter.endWindow('w')).rejects.toThrow(/never opened/);
    } finally {
      delete process.env.FAKE_SMI_TRACE;
      delete process.env.FAKE_SMI_TRACE_FIELDS;
      poller?.stop();
      await sampler?.stop();
    }
  }, 40_000);
});

describe('EnergyMeter source selection', () => {
  /** An in-memory sample store: 1 Hz samples at 100 W from tS = 0 to 20. */
  function store(powerW: (t: number) => number | null = () => 100): PowerSampleStore {
    const samples: GpuSample[] = Array.from({ length: 21 }, (_, t) => ({
      tS: t, gpuIndex: 0, powerW: powerW(t), powerInstantW: null, tempC: 40, memTempC: null, smClockMhz: null,
      memClockMhz: null, fanPct: null, utilPct: null, memUsedMib: null, eventReasons: null,
    }));
    return {
      collected: (f = {}) => samples.filter((s) => (f.fromS === undefined || s.tS >= f.fromS) && (f.toS === undefined || s.tS <= f.toS)),
      waitForSampleAfter: async () => {},
    };
  }

  it('without NVML, the nvidia-smi trapezoid is the figure and NVML says why it is missing', async () => {
    const meter = new EnergyMeter({ gpus: [0], smi: store(), nvml: null });
    const m = await meter.measure('x', 5, 15);
    expect(m).toMatchObject({ energySource: 'nvidia-smi', energyJ: 1000, nvmlJ: null, smiVsNvmlRel: null });
    expect(m.nvmlError).toMatch(/unavailable/);
  });

  it('a window the samples do not cover, with no counter, is an error naming both reasons', async () => {
    const meter = new EnergyMeter({ gpus: [0], smi: store((t) => (t >= 8 && t <= 12 ? null : 100)), nvml: null });
    await expect(meter.measure('x', 5, 15)).rejects.toThrow(EnergyWindowError);
    await expect(meter.measure('x', 5, 15)).rejects.toThrow(/NVML: .*unavailable.*nvidia-smi: .*gap/);
  });

  it('needs at least one source', () => {
    expect(() => new EnergyMeter({ gpus: [0], smi: null, nvml: null })).toThrow(/neither is available/);
  });
});
