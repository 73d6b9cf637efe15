/**
 * Polls NVML's total-energy counter (DESIGN.md §5: at the window edges and at >= 10 Hz) and turns counter
 * readings into the energy of a window. The edges are read on demand with `read()`, synchronously, so
 * that an edge reading is taken exactly when asked; the background readings are there to detect counter
 * resets inside a window, to give a fallback when an edge reading is missing and to split a window into
 * segments (the J/token confidence interval), and run on a worker thread where the Nvml implementation
 * offers it (a real read takes milliseconds of driver time: see readInBackground).
 */
import { performance } from 'node:perf_hooks';
import { EnergyWindowError, InputError, TelemetryError, describeValue } from '../errors.js';
export const DEFAULT_POLL_RATE_HZ = 10;
/** DESIGN.md §5 asks for at least 10 Hz. */
export const MIN_POLL_RATE_HZ = 10;
/** Poll errors kept for inspection; older ones are counted, not stored. */
const MAX_KEPT_ERRORS = 100;
export class NvmlEnergyPoller {
    nvml;
    gpuIndices;
    rateHz;
    series = new Map();
    resetList = [];
    errorList = [];
    errorCount = 0;
    timer = null;
    latencyCount = 0;
    latencySumMs = 0;
    latencyMaxMs = 0;
    /** GPUs with a background read in flight (the token tells a stale completion from a newer read). */
    pending = new Map();
    /** Bumped by stop(): background reads submitted before it are dropped when they return. */
    generation = 0;
    constructor(nvml, options) {
        this.nvml = nvml;
        const rateHz = options.rateHz ?? DEFAULT_POLL_RATE_HZ;
        if (typeof rateHz !== 'number' || !Number.isFinite(rateHz) || rateHz < MIN_POLL_RATE_HZ) {
            throw new InputError(`Expected \`rateHz\` to be a number >= ${MIN_POLL_RATE_HZ}, got ${describeValue(rateHz)}`);
        }
        const indices = options.gpuIndices;
        if (indices.length === 0 || !indices.every((i) => Number.isInteger(i) && i >= 0)) {
            throw new InputError(`Expected \`gpuIndices\` to be a non-empty array of GPU indices, got ${describeValue(indices)}`);
        }
        if (new Set(indices).size !== indices.length) {
            throw new InputError(`Expected \`gpuIndices\` without duplicates, got ${describeValue(indices)}`);
        }
        if (!nvml.available) {
            throw new TelemetryError(`NVML energy counter unavailable: ${nvml.unavailableReason ?? 'unknown reason'}`);
        }
        this.gpuIndices = [...indices];
        this.rateHz = rateHz;
        for (const gpuIndex of indices)
            this.series.set(gpuIndex, []);
    }
    /**
     * Takes one reading of every GPU at once (so a GPU without a counter fails here, loudly, not later in
     * a timer), then polls in the background.
     *
     * The schedule is a chain of unref'd setTimeout calls aimed at start + k·period rather than
     * setInterval: Node re-arms an interval only after its callback ran, so every period is a little
     * longer than asked and a 100 ms interval delivers slightly under 10 Hz. Aiming at absolute times keeps
     * the mean rate at rateHz; ticks missed during a long event-loop stall are skipped, not burst.
     */
    start() {
        if (this.timer !== null)
            throw new TelemetryError('NvmlEnergyPoller.start(): already started');
        for (const gpuIndex of this.gpuIndices)
            this.read(gpuIndex);
        const periodMs = 1000 / this.rateHz;
        const startMs = performance.now();
        let tick = 0;
        const schedule = () => {
            const nowMs = performance.now();
            tick = Math.max(tick + 1, Math.ceil((nowMs - startMs) / periodMs));
            this.timer = setTimeout(onTick, Math.max(0, startMs + tick * periodMs - nowMs));
            this.timer.unref(); // never keep the process alive for telemetry
        };
        const onTick = () => {
            for (const gpuIndex of this.gpuIndices) {
                if (this.nvml.totalEnergyMjAsync) {
                    this.readInBackground(gpuIndex);
                    continue;
                }
                try {
                    this.read(gpuIndex);
                }
                catch (error) {
                    // A timer callback has nobody to throw to: keep the error for the caller (edge reads via
                    // read() still throw), and keep polling.
                    this.recordError(gpuIndex, error);
                }
            }
            if (this.timer !== null)
                schedule();
        };
        schedule();
    }
    stop() {
        if (this.timer !== null)
            clearTimeout(this.timer);
        this.timer = null;
        // Background reads still running are dropped when they return.
        this.generation += 1;
    }
    get running() {
        return this.timer !== null;
    }
    /** Reads the counter of one GPU now (use it at the exact window edges) and records the reading. */
    read(gpuIndex) {
        const series = this.series.get(gpuIndex);
        if (series === undefined) {
            throw new InputError(`GPU ${describeValue(gpuIndex)} is not polled; polled: ${this.gpuIndices.join(', ')}`);
        }
        // tS is taken just before the call. Against the fake library the call takes ~1-30 µs, but on a real
        // H100 (driver 580) nvmlDeviceGetTotalEnergyConsumption took 3-5 ms (p99 16 ms) and blocks this
        // thread meanwhile; the counter itself only moves every ~100 ms, so the offset is below its resolution.
        const tS = Date.now() / 1000;
        const beforeMs = performance.now();
        const energyMj = this.nvml.totalEnergyMj(gpuIndex);
        this.recordLatency(performance.now() - beforeMs);
        return this.record(series, gpuIndex, tS, energyMj);
    }
    /**
     * A background reading on a worker thread (Nvml.totalEnergyMjAsync): on a real H100 a read takes ~4 ms
     * (up to 100 ms) of driver time, which would otherwise stall the event loop — and with it the load
     * generator's token timestamps and the nvidia-smi reader — ten times a second. At most one read per GPU
     * is in flight; a tick that finds the previous one still running is skipped.
     *
     * The reading is kept only if no other reading of this GPU was recorded while it ran: an edge read()
     * meanwhile is exact and may be newer, and keeping both would leave the series out of time order (a
     * false counter reset). Its tS is the midpoint of submission and completion, so it lies between the
     * readings before and after it; the read happened within half the call's span of it.
     */
    readInBackground(gpuIndex) {
        if (this.pending.has(gpuIndex))
            return;
        const series = this.series.get(gpuIndex);
        const generation = this.generation;
        const lengthAtSubmit = series.length;
        const submitMs = Date.now();
        const beforeMs = performance.now();
        const token = {};
        this.pending.set(gpuIndex, token);
        this.nvml
            .totalEnergyMjAsync(gpuIndex)
            .then((energyMj) => {
            this.recordLatency(performance.now() - beforeMs);
            if (generation !== this.generation || series.length !== lengthAtSubmit)
                return;
            this.record(series, gpuIndex, (submitMs + Date.now()) / 2000, energyMj);
        })
            .catch((error) => {
            if (generation === this.generation)
                this.recordError(gpuIndex, error);
        })
            .finally(() => {
            if (this.pending.get(gpuIndex) === token)
                this.pending.delete(gpuIndex);
        });
    }
    recordLatency(latencyMs) {
        this.latencyCount += 1;
        this.latencySumMs += latencyMs;
        this.latencyMaxMs = Math.max(this.latencyMaxMs, latencyMs);
    }
    record(series, gpuIndex, tS, energyMj) {
        if (energyMj === null) {
            throw new TelemetryError(`GPU ${gpuIndex} has no NVML total-energy counter (NVML_ERROR_NOT_SUPPORTED): use nvidia-smi power instead`);
        }
        const reading = { tS, gpuIndex, energyMj };
        const previous = series.at(-1);
        if (previous !== undefined && energyMj < previous.energyMj) {
            this.resetList.push({ gpuIndex, tS, beforeMj: previous.energyMj, afterMj: energyMj });
        }
        series.push(reading);
        return reading;
    }
    /** All readings of one GPU, oldest first. */
    readings(gpuIndex) {
        return this.series.get(gpuIndex) ?? [];
    }
    resets() {
        return this.resetList;
    }
    /** Errors of background reads (the newest MAX_KEPT_ERRORS) and how many there were in all. */
    errors() {
        return { count: this.errorCount, recent: this.errorList };
    }
    /**
     * Wall time of each FFI call to nvmlDeviceGetTotalEnergyConsumption, over all reads so far: for
     * read(), the call itself; for background reads, from submission until the result is back on the
     * event loop.
     */
    readLatencyMs() {
        if (this.latencyCount === 0)
            return { count: 0, meanMs: null, maxMs: null };
        return { count: this.latencyCount, meanMs: this.latencySumMs / this.latencyCount, maxMs: this.latencyMaxMs };
    }
    /**
     * Energy of one GPU over a window, from the counter readings that lie inside it, edges included:
     * normally the two edge readings taken with read() and the background readings between them.
     *
     * Edges are epoch seconds or the readings themselves. Readings are preferred: tS has Date.now()'s
     * millisecond resolution, so a background reading and an edge reading can share a timestamp (start()
     * followed by read() nearly always does). With numeric edges such ties are resolved at the `from` edge
     * by taking the newest reading with tS === fromS (the edge read is the newest when it was taken); the
     * residual ambiguity is under 1 ms of energy per edge. With reading edges the window is exactly the
     * readings recorded from `from` to `to`.
     *
     * A reset inside the window (a reading smaller than the one before) does not throw: the energy is the
     * sum of the monotonic segments, i.e. of every non-negative step between consecutive readings, and the
     * step across the reset counts 0 because what happened between the last reading before the reset and
     * the first after it is unknown (the counter may restart at 0, or at anything after a GPU reset). The
     * result is therefore a lower bound, short by at most the energy of `resetGapS` seconds (one polling
     * period per reset at 10 Hz); `resetDetected` lets the caller flag or reject the measurement.
     */
    energyBetweenJ(gpuIndex, from, to) {
        const series = this.readings(gpuIndex);
        const fromS = typeof from === 'number' ? from : from.tS;
        const toS = typeof to === 'number' ? to : to.tS;
        const label = `energy window [${fromS}, ${toS}] of GPU ${gpuIndex}`;
        const start = typeof from === 'number' ? this.firstIndexAtEdge(series, from) : series.lastIndexOf(from);
        const end = typeof to === 'number' ? this.lastIndexAtMost(series, to) : series.lastIndexOf(to);
        if (start === -1 && typeof from !== 'number') {
            throw new EnergyWindowError(`${label}: the \`from\` reading was not recorded by this poller for this GPU`);
        }
        if (end === -1 && typeof to !== 'number') {
            throw new EnergyWindowError(`${label}: the \`to\` reading was not recorded by this poller for this GPU`);
        }
        if (toS < fromS || (typeof from === 'number' && typeof to === 'number' && toS === fromS)) {
            throw new EnergyWindowError(`${label} is empty or reversed`);
        }
        const count = start === -1 || end < start ? 0 : end - start + 1;
        if (count < 2) {
            throw new EnergyWindowError(`${label} holds ${count} NVML counter reading(s); at least 2 are needed (read() at both edges)`);
        }
        let energyMj = 0n;
        let resetDetected = false;
        let resetGapS = 0;
        for (let i = start + 1; i <= end; i++) {
            const previous = series[i - 1];
            const current = series[i];
            if (current.energyMj >= previous.energyMj) {
                energyMj += current.energyMj - previous.energyMj;
            }
            else {
                resetDetected = true;
                resetGapS += current.tS - previous.tS;
            }
        }
        // mJ sums stay exact as bigint; only the final value becomes a float.
        return { energyJ: Number(energyMj) / 1000, readings: count, resetDetected, resetGapS };
    }
    /** Index of the first reading at or after fromS; among readings stamped exactly fromS, the newest. */
    firstIndexAtEdge(series, fromS) {
        let index = series.findIndex((r) => r.tS >= fromS);
        if (index === -1)
            return -1;
        while (series[index].tS === fromS && series[index + 1]?.tS === fromS)
            index += 1;
        return index;
    }
    /** Index of the last reading at or before toS, or -1. */
    lastIndexAtMost(series, toS) {
        for (let i = series.length - 1; i >= 0; i--)
            if (series[i].tS <= toS)
                return i;
        return -1;
    }
    recordError(gpuIndex, error) {
        this.errorCount += 1;
        this.errorList.push({ gpuIndex, tS: Date.now() / 1000, message: error instanceof Error ? error.message : String(error) });
        if (this.errorList.length > MAX_KEPT_ERRORS)
            this.errorList.shift();
    }
}
//# sourceMappingURL=nvml-poller.js.map