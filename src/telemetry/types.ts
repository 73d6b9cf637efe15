/**
 * Telemetry shapes shared by every source (nvidia-smi, NVML, replay, null).
 * Units live in the names. `null` always means "missing" ([N/A], [Not Supported]), never zero.
 */

/** One nvidia-smi sample of one GPU. */
export interface GpuSample {
  /** Epoch seconds of the sample, from nvidia-smi's own timestamp. */
  tS: number;
  gpuIndex: number;
  /** power.draw: on Ampere and newer a trailing one-second average. */
  powerW: number | null;
  /** power.draw.instant */
  powerInstantW: number | null;
  /**
   * module.power.draw.average: a superchip's module power (GB10, GH200: GPU + CPU + module memory);
   * `[N/A]` on discrete boards. Optional: sources that never report it leave it out.
   */
  modulePowerW?: number | null;
  tempC: number | null;
  memTempC: number | null;
  smClockMhz: number | null;
  memClockMhz: number | null;
  fanPct: number | null;
  utilPct: number | null;
  memUsedMib: number | null;
  /** clocks_event_reasons.active (or clocks_throttle_reasons.active) bitmask; null when missing. */
  eventReasons: bigint | null;
}

/** One reading of NVML's total-energy counter. */
export interface EnergyCounterReading {
  /** Epoch seconds when the reading was taken. */
  tS: number;
  gpuIndex: number;
  /** nvmlDeviceGetTotalEnergyConsumption: millijoules since the driver was loaded. */
  energyMj: bigint;
}

/** Instantaneous NVML readings of one GPU. */
export interface NvmlSnapshot {
  tS: number;
  gpuIndex: number;
  powerW: number | null;
  tempC: number | null;
  energyMj: bigint | null;
}

/**
 * NVML through FFI, or its null object when libnvidia-ml is missing (STYLE.md).
 * Methods are synchronous (against the fake library a call takes microseconds, but a real H100 energy
 * read took ~4 ms), except totalEnergyMjAsync.
 */
export interface Nvml {
  readonly available: boolean;
  /** Why NVML is unavailable (for doctor); null when available. */
  readonly unavailableReason: string | null;
  driverVersion(): string | null;
  deviceCount(): number;
  deviceName(gpuIndex: number): string | null;
  /** null when the device has no energy counter (pre-Volta, some boards): NOT_SUPPORTED. */
  totalEnergyMj(gpuIndex: number): bigint | null;
  /**
   * The same reading taken on a worker thread, so that a slow driver call does not block the event loop
   * (on an H100 one read took ~4 ms: bench/gpu/README.md). Optional: without it callers read
   * synchronously.
   */
  totalEnergyMjAsync?(gpuIndex: number): Promise<bigint | null>;
  powerW(gpuIndex: number): number | null;
  tempC(gpuIndex: number): number | null;
  shutdown(): void;
}
