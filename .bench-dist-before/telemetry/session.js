/**
 * Telemetry for a run: the 1 Hz sampler, NVML's counter polled at 10 Hz where it exists, and the
 * energy meter over both. One interface, a real implementation (here) and a simulated one (the sim
 * engine), so that the experiment protocol never asks which it has.
 */
import { EnergyMeter } from '../energy/meter.js';
import { TelemetryError } from '../errors.js';
import { NvmlEnergyPoller } from './nvml-poller.js';
import { openNvml } from './nvml.js';
import { listGpus, resolveNvidiaSmi } from './smi-exec.js';
import { SmiSampler } from './smi-sampler.js';
export async function openRealTelemetry(opts = {}) {
    const executable = resolveNvidiaSmi(opts.nvidiaSmi);
    const all = await listGpus(executable);
    if (all.length === 0)
        throw new TelemetryError(`${executable} lists no GPU`);
    const gpus = opts.gpus && opts.gpus.length > 0 ? [...opts.gpus] : all.map((g) => g.index);
    const unknown = gpus.filter((g) => !all.some((x) => x.index === g));
    if (unknown.length > 0)
        throw new TelemetryError(`GPU ${unknown.join(', ')} not found; this machine has GPU ${all.map((g) => g.index).join(', ')}`);
    // A few restarts within 10 minutes: a stalled or crashed nvidia-smi costs the nvidia-smi figure of one
    // window (the NVML counter still measures it), not the night's run.
    const sampler = await SmiSampler.create({ executable, gpus, maxRestarts: 5, restartWindowS: 600 });
    await sampler.start();
    const nvml = openNvml({ libraryPath: opts.nvmlLib });
    let poller = null;
    if (nvml.available && gpus.every((g) => g < nvml.deviceCount() && nvml.totalEnergyMj(g) !== null)) {
        poller = new NvmlEnergyPoller(nvml, { gpuIndices: gpus });
        poller.start();
    }
    const meter = new EnergyMeter({ gpus, smi: sampler, nvml: poller });
    return {
        gpus,
        meter,
        energySource: poller ? 'nvml' : 'nvidia-smi',
        incidents: sampler.incidents,
        identity: { gpus: all.filter((g) => gpus.includes(g.index)), driverVersion: all[0]?.driverVersion ?? null },
        onSample: (fn) => sampler.onSample(fn),
        onError: (fn) => sampler.onError(fn),
        get failure() {
            return sampler.failure;
        },
        collected: (f) => sampler.collected(f),
        waitForSampleAfter: (t, s) => sampler.waitForSampleAfter(t, s),
        async stop() {
            poller?.stop();
            await sampler.stop();
            if (nvml.available)
                nvml.shutdown();
        },
    };
}
//# sourceMappingURL=session.js.map