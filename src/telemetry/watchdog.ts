/**
 * Thermal watchdog (DESIGN section 5.6): any sample at or above `abortTempC` aborts the load within
 * that same sample — the abort fires synchronously in the sample callback.
 */
import { CarbonbenchError } from '../errors.js';
import type { SampleSource } from './source.js';
import type { GpuSample } from './types.js';

export const DEFAULT_ABORT_TEMP_C = 85;

export class ThermalAbort extends CarbonbenchError {
  constructor(
    readonly sample: GpuSample,
    readonly abortTempC: number,
  ) {
    super(`GPU ${sample.gpuIndex} reached ${sample.tempC} °C at ${new Date(sample.tS * 1000).toISOString()} (abort threshold ${abortTempC} °C)`);
  }
}

export interface WatchdogHandle {
  /** Aborted with a ThermalAbort as reason when the threshold is reached. */
  readonly signal: AbortSignal;
  /** Highest GPU temperature seen since `watch` (null before any sample with a temperature). */
  maxTempC(): number | null;
  stop(): void;
}

export function watchTemperature(source: SampleSource, abortTempC = DEFAULT_ABORT_TEMP_C): WatchdogHandle {
  const controller = new AbortController();
  let maxTempC: number | null = null;
  const off = source.onSample((sample) => {
    if (sample.tempC === null) return;
    maxTempC = maxTempC === null ? sample.tempC : Math.max(maxTempC, sample.tempC);
    if (sample.tempC >= abortTempC && !controller.signal.aborted) {
      controller.abort(new ThermalAbort(sample, abortTempC));
    }
  });
  return {
    signal: controller.signal,
    maxTempC: () => maxTempC,
    stop: off,
  };
}
