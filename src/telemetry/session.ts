/**
 * Telemetry for a run: the 1 Hz sampler, NVML's counter polled at 10 Hz where it exists, and the
 * energy meter over both. One interface, a real implementation (here) and a simulated one (the sim
 * engine), so that the experiment protocol never asks which it has.
 */
import { HostEnergyMeter, discoverHost } from '../energy/host-meter.js';
import { EnergyMeter, type PowerSampleStore } from '../energy/meter.js';
import { TelemetryError } from '../errors.js';
import { NvmlEnergyPoller } from './nvml-poller.js';
import { openNvml } from './nvml.js';
import { listGpus, resolveNvidiaSmi, type GpuIdentity } from './smi-exec.js';
import { SmiSampler } from './smi-sampler.js';
import { resolveSysfsRoot } from './sysfs.js';
import type { SampleSource } from './source.js';

export interface TelemetrySession extends SampleSource, PowerSampleStore {
  readonly gpus: readonly number[];
  readonly meter: EnergyMeter;
  /** 'nvml' when every GPU has the energy counter, else 'nvidia-smi'; 'sim' for the simulator. */
  readonly energySource: 'nvml' | 'nvidia-smi' | 'sim';
  /** Transient telemetry failures recovered by a restart (gaps in the samples), oldest first. */
  readonly incidents?: readonly { tS: number; message: string }[];
  /** CPU / DRAM energy beside the GPU's (RAPL, hwmon; without sources where nothing is readable); absent when simulated. */
  readonly host?: HostEnergyMeter | null;
  /** GPU names, driver, for the run record and the hardware profile. */
  readonly identity: { gpus: GpuIdentity[]; driverVersion: string | null };
  stop(): Promise<void>;
}

export interface RealTelemetryOptions {
  nvidiaSmi?: string;
  nvmlLib?: string;
  /** GPU indices to watch; all when omitted. */
  gpus?: readonly number[];
  /** Where sysfs is (RAPL, hwmon): default $CARBONBENCH_SYSFS_ROOT, else /sys. */
  sysfsRoot?: string;
}

export async function openRealTelemetry(opts: RealTelemetryOptions = {}): Promise<TelemetrySession> {
  const sysfsRoot = resolveSysfsRoot(opts.sysfsRoot); // a bad --sysfs-root fails before anything starts
  const executable = resolveNvidiaSmi(opts.nvidiaSmi);
  const all = await listGpus(executable);
  if (all.length === 0) throw new TelemetryError(`${executable} lists no GPU`);
  const gpus = opts.gpus && opts.gpus.length > 0 ? [...opts.gpus] : all.map((g) => g.index);
  const unknown = gpus.filter((g) => !all.some((x) => x.index === g));
  if (unknown.length > 0) throw new TelemetryError(`GPU ${unknown.join(', ')} not found; this machine has GPU ${all.map((g) => g.index).join(', ')}`);
  // A few restarts within 10 minutes: a stalled or crashed nvidia-smi costs the nvidia-smi figure of one
  // window (the NVML counter still measures it), not the night's run.
  const sampler = await SmiSampler.create({ executable, gpus, maxRestarts: 5, restartWindowS: 600 });
  await sampler.start();

  const nvml = openNvml({ libraryPath: opts.nvmlLib });
  let poller: NvmlEnergyPoller | null = null;
  if (nvml.available && gpus.every((g) => g < nvml.deviceCount() && nvml.totalEnergyMj(g) !== null)) {
    poller = new NvmlEnergyPoller(nvml, { gpuIndices: gpus });
    poller.start();
  }
  // Host energy (issue 9): whatever RAPL zones and hwmon sensors are readable; none is not an error.
  const host = new HostEnergyMeter(discoverHost(sysfsRoot));
  host.start();
  const meter = new EnergyMeter({ gpus, smi: sampler, nvml: poller, host });
  return {
    gpus,
    meter,
    energySource: poller ? 'nvml' : 'nvidia-smi',
    host,
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
      host.stop();
      poller?.stop();
      await sampler.stop();
      if (nvml.available) nvml.shutdown();
    },
  };
}
