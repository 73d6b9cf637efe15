/**
 * Named measurement windows over energy counters (STYLE.md, after zeus' ZeusMonitor):
 * `beginWindow(key)` records the start, `endWindow(key)` closes it and returns both energy figures —
 * the NVML counter delta (when the GPU has the counter) and the 1 Hz nvidia-smi power trapezoid — over
 * exactly the same interval. The counter is the primary figure (DESIGN section 6); nvidia-smi is used
 * when there is no counter or it reset inside the window. A window neither source covers is an error.
 */
import { EnergyWindowError } from '../errors.js';
import { POWER_DRAW_ALIGN_S, integratePower, toPowerPoints } from './integrate.js';
export class EnergyMeter {
    opts;
    open = new Map();
    alignS;
    now;
    constructor(opts) {
        this.opts = opts;
        if (!opts.smi && !opts.nvml)
            throw new EnergyWindowError('an energy meter needs nvidia-smi samples or the NVML counter; neither is available');
        this.alignS = opts.alignS ?? POWER_DRAW_ALIGN_S;
        this.now = opts.now ?? (() => Date.now() / 1000);
    }
    beginWindow(key) {
        if (this.open.has(key))
            throw new EnergyWindowError(`measurement window "${key}" is already open`);
        const fromS = this.now();
        if (this.opts.nvml)
            for (const g of this.opts.gpus)
                this.opts.nvml.read(g);
        this.open.set(key, fromS);
        return fromS;
    }
    /**
     * Takes NVML counter readings now, at an edge the caller chose (a load generator's window edge):
     * measure() over [edge, …] then starts from a real reading rather than the nearest poll.
     */
    markEdge() {
        if (this.opts.nvml)
            for (const g of this.opts.gpus)
                this.opts.nvml.read(g);
        return this.now();
    }
    /**
     * Energy of each segment (for the J/token confidence interval), from the same source measure() would
     * prefer: the NVML counter interpolated linearly at the segment edges, else the power trapezoid.
     * Segments not (yet) covered by data are left out (null); the caller decides whether that is enough.
     */
    segmentEnergies(segments) {
        if (this.opts.nvml) {
            const series = this.opts.gpus.map((g) => this.opts.nvml.readings(g));
            const at = (readings, tS) => {
                let lo = -1;
                for (let i = 0; i < readings.length && readings[i].tS <= tS; i++)
                    lo = i;
                const a = readings[lo];
                const b = readings[lo + 1];
                if (!a || !b)
                    return a && a.tS === tS ? Number(a.energyMj) : null;
                const ea = Number(a.energyMj);
                return ea + ((Number(b.energyMj) - ea) * (tS - a.tS)) / (b.tS - a.tS || 1);
            };
            return segments.map((seg) => {
                let sumMj = 0;
                for (const readings of series) {
                    const from = at(readings, seg.fromS);
                    const to = at(readings, seg.toS);
                    if (from === null || to === null || to < from)
                        return null;
                    sumMj += to - from;
                }
                return sumMj / 1000;
            });
        }
        const store = this.opts.smi;
        const points = this.opts.gpus.map((g) => toPowerPoints(store.collected({ gpuIndex: g }), this.alignS));
        return segments.map((seg) => {
            try {
                return points.reduce((sum, p) => sum + integratePower(p, seg.fromS, seg.toS).energyJ, 0);
            }
            catch {
                return null;
            }
        });
    }
    /** Discards an open window without measuring it (an aborted experiment). */
    cancelWindow(key) {
        this.open.delete(key);
    }
    async endWindow(key) {
        const fromS = this.open.get(key);
        if (fromS === undefined)
            throw new EnergyWindowError(`measurement window "${key}" was never opened (or already closed)`);
        this.open.delete(key);
        const toS = this.now();
        if (this.opts.nvml)
            for (const g of this.opts.gpus)
                this.opts.nvml.read(g);
        return this.measure(key, fromS, toS);
    }
    /** Both figures over [fromS, toS]; waits for the nvidia-smi sample that closes the window. */
    async measure(key, fromS, toS) {
        const perGpu = this.opts.gpus.map((gpuIndex) => ({ gpuIndex, nvmlJ: null, smiJ: null }));
        let nvmlError = this.opts.nvml ? null : 'NVML energy counter unavailable';
        let nvmlReadings = 0;
        if (this.opts.nvml) {
            try {
                for (const g of perGpu) {
                    const w = this.opts.nvml.energyBetweenJ(g.gpuIndex, fromS, toS);
                    if (w.resetDetected)
                        throw new EnergyWindowError(`NVML energy counter of GPU ${g.gpuIndex} went backwards inside the window (driver reload or GPU reset)`);
                    g.nvmlJ = w.energyJ;
                    nvmlReadings += w.readings;
                }
            }
            catch (err) {
                nvmlError = err.message;
                for (const g of perGpu)
                    g.nvmlJ = null;
            }
        }
        let smiError = this.opts.smi ? null : 'no nvidia-smi sampler';
        let smiSamples = 0;
        let peakPowerW = null;
        let samples = [];
        if (this.opts.smi) {
            try {
                // The aligned sample that covers toS is printed alignS after it.
                await this.opts.smi.waitForSampleAfter(toS + this.alignS);
                samples = this.opts.smi.collected({ fromS: fromS - 5, toS: toS + 5 }).filter((s) => this.opts.gpus.includes(s.gpuIndex));
                for (const g of perGpu) {
                    const r = integratePower(toPowerPoints(samples.filter((s) => s.gpuIndex === g.gpuIndex), this.alignS), fromS, toS);
                    g.smiJ = r.energyJ;
                    smiSamples += r.samples;
                    peakPowerW = Math.max(peakPowerW ?? 0, r.peakPowerW);
                }
                samples = samples.filter((s) => s.tS >= fromS && s.tS <= toS + this.alignS);
            }
            catch (err) {
                smiError = err.message;
                for (const g of perGpu)
                    g.smiJ = null;
                peakPowerW = null;
            }
        }
        const sum = (pick) => perGpu.every((g) => pick(g) !== null) ? perGpu.reduce((s, g) => s + pick(g), 0) : null;
        const nvmlJ = sum((g) => g.nvmlJ);
        const smiJ = sum((g) => g.smiJ);
        const durationS = toS - fromS;
        let energyJ;
        let energySource;
        if (nvmlJ !== null) {
            energyJ = nvmlJ;
            energySource = 'nvml';
        }
        else if (smiJ !== null) {
            energyJ = smiJ;
            energySource = 'nvidia-smi';
        }
        else {
            throw new EnergyWindowError(`window "${key}" cannot be measured: NVML: ${nvmlError}; nvidia-smi: ${smiError}`);
        }
        return {
            key,
            fromS,
            toS,
            durationS,
            energyJ,
            energySource,
            nvmlJ,
            smiJ,
            smiVsNvmlRel: nvmlJ !== null && smiJ !== null && nvmlJ > 0 ? (smiJ - nvmlJ) / nvmlJ : null,
            smiSamples,
            nvmlReadings,
            meanPowerW: energyJ / durationS,
            peakPowerW,
            perGpu,
            smiError,
            nvmlError,
            samples,
        };
    }
}
//# sourceMappingURL=meter.js.map