/**
 * Background counter reads run off the event loop (koffi async) while window edges read synchronously:
 * the readings must stay in time order with no false counter reset, and stop()/shutdown() with a read
 * in flight must be clean.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { NvmlEnergyPoller } from '../../src/telemetry/nvml-poller.js';
import { openFakeNvml, removeFakeNvmlCopies } from '../helpers/fake-nvml.js';

afterAll(() => removeFakeNvmlCopies());

describe('NvmlEnergyPoller with asynchronous background reads', () => {
  it('interleaved edge reads and background reads stay ordered, without false resets', async () => {
    const { nvml } = openFakeNvml({ powerW: 300 });
    const poller = new NvmlEnergyPoller(nvml, { gpuIndices: [0] });
    poller.start();
    const deadline = Date.now() + 1500;
    let edges = 0;
    while (Date.now() < deadline) {
      poller.read(0); // a window edge, synchronous, possibly while a background read is in flight
      edges++;
      await new Promise((r) => setTimeout(r, 7));
    }
    poller.stop();
    const readings = poller.readings(0);
    expect(poller.resets()).toEqual([]);
    expect(edges).toBeGreaterThan(50);
    // Edges plus the 10 Hz background reads (15 in 1.5 s); a background read that overlapped an edge read
    // is dropped by design (it would break the time order), and on a loaded machine more of them overlap,
    // so ask for a third of them: enough to show the background polling runs.
    expect(readings.length).toBeGreaterThanOrEqual(edges + 5);
    for (let i = 1; i < readings.length; i++) {
      expect(readings[i]!.tS).toBeGreaterThanOrEqual(readings[i - 1]!.tS);
      expect(readings[i]!.energyMj).toBeGreaterThanOrEqual(readings[i - 1]!.energyMj);
    }
    // 300 W over the span of the readings.
    const first = readings[0]!;
    const last = readings[readings.length - 1]!;
    const watts = Number(last.energyMj - first.energyMj) / 1000 / (last.tS - first.tS);
    expect(watts).toBeGreaterThan(270);
    expect(watts).toBeLessThan(330);
    // Shutting NVML down right after stop (a background read may still be in flight) is clean.
    await new Promise((r) => setTimeout(r, 0));
    expect(() => nvml.shutdown()).not.toThrow();
  });
});
