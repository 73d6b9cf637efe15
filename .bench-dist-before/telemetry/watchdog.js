/**
 * Thermal watchdog (DESIGN section 5.6): any sample at or above `abortTempC` aborts the load within
 * that same sample — the abort fires synchronously in the sample callback.
 */
import { CarbonbenchError } from '../errors.js';
export const DEFAULT_ABORT_TEMP_C = 85;
export class ThermalAbort extends CarbonbenchError {
    sample;
    abortTempC;
    constructor(sample, abortTempC) {
        super(`GPU ${sample.gpuIndex} reached ${sample.tempC} °C at ${new Date(sample.tS * 1000).toISOString()} (abort threshold ${abortTempC} °C)`);
        this.sample = sample;
        this.abortTempC = abortTempC;
    }
}
export function watchTemperature(source, abortTempC = DEFAULT_ABORT_TEMP_C) {
    const controller = new AbortController();
    let maxTempC = null;
    const off = source.onSample((sample) => {
        if (sample.tempC === null)
            return;
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
//# sourceMappingURL=watchdog.js.map