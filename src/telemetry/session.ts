/**
 * Telemetry for a run: the 1 Hz sampler, NVML's counter polled where it exists (10 Hz, or less where a
 * read is expensive: chooseNvmlRateHz), and the energy meter over both. One interface, a real
 * implementation (here) and a simulated one (the sim engine), so that the experiment protocol never
 * asks which it has.
 */
import { performance } from 'node:perf_hooks';
import { HostEnergyMeter, discoverHost } from '../energy/host-meter.js';
import { EnergyMeter, type PowerSampleStore } from '../energy/meter.js';
import { TelemetryError } from '../errors.js';
import { NvmlEnergyPoller, nvmlPollingPlan, type NvmlPollingPlan } from './nvml-poller.js';
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
  /**
   * How the NVML counter is polled in the background (null without the counter, absent when simulated):
   * the rate, the measured cost of one read and why that rate.
   */
  readonly nvmlPolling?: NvmlPollingPlan | null;
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
  /** Background NVML counter reads per second (1–100), or `auto` (default): see chooseNvmlRateHz. */
  nvmlHz?: number | 'auto';
}

/** Reads timed at start to price one counter read (the first read of a GPU is often slower: not timed). */
const READ_COST_PROBES = 5;

/** Median wall time of a few reads of the first GPU's counter, in ms. */
function measureReadCostMs(read: () => unknown): number {
  const times: number[] = [];
  for (let i = 0; i < READ_COST_PROBES; i++) {
    const t0 = performance.now();
    read();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
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
  let nvmlPolling: NvmlPollingPlan | null = null;
  if (nvml.available && gpus.every((g) => g < nvml.deviceCount() && nvml.totalEnergyMj(g) !== null)) {
    const readCostMs = measureReadCostMs(() => nvml.totalEnergyMj(gpus[0]!));
    nvmlPolling = nvmlPollingPlan(opts.nvmlHz ?? 'auto', readCostMs, gpus.length);
    poller = new NvmlEnergyPoller(nvml, { gpuIndices: gpus, rateHz: nvmlPolling.rateHz });
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
    nvmlPolling,
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
