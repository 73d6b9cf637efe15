/**
 * Simulated telemetry for the sim engine, on a VirtualClock.
 *
 * Coupling: the simulated *board* (SimDevice, one per VirtualClock and GPU index) is the one place where
 * the sim engine and the sim telemetry meet. The engine writes what the board is doing — idle, loading a
 * model, serving at the model's power — as piecewise-constant phases on a timeline; the telemetry reads
 * that timeline as the clock advances and turns it into nvidia-smi-like 1 Hz samples. Neither knows the
 * other, and the VirtualClock is the shared world: `simDevice(clock, gpu)` returns the same board to both.
 *
 * Samples, like nvidia-smi's on Ampere and newer:
 *   power.draw          mean power over the trailing second [t − 1, t] (exact over the timeline), 0.01 W
 *   power.draw.instant  the power at t
 *   temperature.gpu     ambient + two first-order poles (die: seconds, heat sink: tens of seconds), each
 *                       relaxing toward R × P; integrated exactly over the piecewise-constant power; integer °C
 *   temperature.memory  gpu + offset on HBM boards, [N/A] on the DGX Spark
 *   clocks.sm           idle clock when idle, boost clock when busy, the power-capped clock at the TDP
 *   utilization.gpu     the phase's utilization; memory.used the loaded weights + KV cache (N/A on GB10)
 *   clocks_event_reasons.active  0x1 (GPU idle) when idle, 0x4 (SW power cap) at ≥ 98% of the TDP, else 0
 * Samples are emitted in time order to onSample listeners as the clock crosses each sample time (the
 * VirtualClock steps ≤ 1 s while anyone listens), so the thermal watchdog aborts within one sample, and
 * they are kept for collected(). The energy meter is the ordinary EnergyMeter over these samples.
 *
 * Waiting: waitForSampleAfter advances the virtual clock to the sample it waits for (a real sampler waits
 * the same wall time). The cooldown gate waits for samples on real-time timers; so that it works
 * unchanged, `autoAdvance` (default on) moves the clock by 1 s whenever the event loop goes idle while
 * a sample listener is registered and nothing else moved the clock since the last such turn — at most
 * `autoAdvanceMaxS` seconds in a row. This stays deterministic as long as the runner awaits only the
 * clock and samples (microtasks) while listeners are registered; virtual time would otherwise also
 * advance while it awaits real I/O (an HTTP call), which a real clock does too.
 *
 * Fault injection for tests: `faults.tempSpike` reports `tempC` (default 86 °C) in the samples taken
 * during [atS, atS + durationS) (default 1 s: exactly one sample).
 */
import { EnergyMeter } from '../energy/meter.js';
import { TelemetryError } from '../errors.js';
import { EVENT_REASON_BITS } from '../telemetry/smi-fields.js';
import { DEFAULT_SIM_HARDWARE, SIM_HARDWARE } from './sim-model.js';
const MIB = 1024 * 1024;
/** One simulated board: a timeline of phases, written by the sim engine, read by the sim telemetry. */
export class SimDevice {
    clock;
    gpuIndex;
    hardware;
    phases = [];
    repetitions = new Map();
    constructor(clock, gpuIndex, hardware) {
        this.clock = clock;
        this.gpuIndex = gpuIndex;
        this.hardware = hardware;
    }
    /** The board with no model loaded and nothing running. */
    idleState() {
        return { label: 'idle', powerW: this.hardware.idleW, utilPct: 0, memUsedMib: 0 };
    }
    /**
     * From `fromS` (default: now; may be in the future, e.g. a scheduled crash) the board is in `state`.
     * Phases that started at or after `fromS` are dropped: the newest decision wins.
     */
    set(state, opts = {}) {
        const fromS = opts.fromS ?? this.clock.now();
        while (this.phases.length > 0 && this.phases[this.phases.length - 1].fromS >= fromS)
            this.phases.pop();
        this.phases.push({ fromS, state, jitter: opts.jitter ?? null });
    }
    phaseIndexAt(tS) {
        // Last phase with fromS ≤ tS (binary search), −1 before the first.
        let lo = 0;
        let hi = this.phases.length - 1;
        let found = -1;
        while (lo <= hi) {
            const mid = (lo + hi) >> 1;
            if (this.phases[mid].fromS <= tS) {
                found = mid;
                lo = mid + 1;
            }
            else
                hi = mid - 1;
        }
        return found;
    }
    /** The state at `tS`, with the jittered power. */
    stateAt(tS) {
        const i = this.phaseIndexAt(tS);
        if (i < 0)
            return this.idleState();
        const p = this.phases[i];
        if (!p.jitter)
            return p.state;
        const k = Math.floor(tS - p.jitter.originS);
        return { ...p.state, powerW: Math.min(this.hardware.tdpW, p.state.powerW * p.jitter.factor(k)) };
    }
    /** [fromS, toS] cut into spans of constant power. */
    pieces(fromS, toS) {
        const out = [];
        let i = this.phaseIndexAt(fromS);
        let t = fromS;
        while (t < toS) {
            const phase = i >= 0 ? this.phases[i] : null;
            const phaseEnd = Math.min(toS, this.phases[i + 1]?.fromS ?? Infinity);
            if (!phase) {
                out.push({ fromS: t, toS: phaseEnd, powerW: this.hardware.idleW });
            }
            else if (!phase.jitter) {
                out.push({ fromS: t, toS: phaseEnd, powerW: phase.state.powerW });
            }
            else {
                const j = phase.jitter;
                while (t < phaseEnd) {
                    const k = Math.floor(t - j.originS);
                    const end = Math.min(phaseEnd, j.originS + k + 1);
                    // Guard against a float edge that would not advance t.
                    const next = end > t ? end : phaseEnd;
                    out.push({ fromS: t, toS: next, powerW: Math.min(this.hardware.tdpW, phase.state.powerW * j.factor(k)) });
                    t = next;
                }
            }
            t = phaseEnd;
            i++;
        }
        return out;
    }
    /** ∫ power dt over [fromS, toS], exact. */
    energyJ(fromS, toS) {
        return this.pieces(fromS, toS).reduce((sum, p) => sum + p.powerW * (p.toS - p.fromS), 0);
    }
    meanPowerW(fromS, toS) {
        return toS > fromS ? this.energyJ(fromS, toS) / (toS - fromS) : this.stateAt(fromS).powerW;
    }
    /** 0, 1, 2, … for successive calls with the same key (repeated configs draw fresh noise). */
    nextRepetition(key) {
        const n = this.repetitions.get(key) ?? 0;
        this.repetitions.set(key, n + 1);
        return n;
    }
}
const devices = new WeakMap();
/**
 * The simulated board `gpuIndex` of this clock's world, created on first use with `hardware` (default
 * the DGX Spark). Later calls return the same board whatever `hardware` they pass: callers that care
 * compare `device.hardware.id`.
 */
export function simDevice(clock, gpuIndex = 0, hardware = DEFAULT_SIM_HARDWARE) {
    let byGpu = devices.get(clock);
    if (!byGpu) {
        byGpu = new Map();
        devices.set(clock, byGpu);
    }
    let device = byGpu.get(gpuIndex);
    if (!device) {
        device = new SimDevice(clock, gpuIndex, SIM_HARDWARE[hardware]);
        byGpu.set(gpuIndex, device);
    }
    return device;
}
export function openSimTelemetry(opts) {
    const { clock } = opts;
    const gpus = opts.gpus && opts.gpus.length > 0 ? [...opts.gpus] : [0];
    const periodS = opts.periodS ?? 1;
    const autoAdvance = opts.autoAdvance ?? true;
    const autoAdvanceMaxS = opts.autoAdvanceMaxS ?? 600;
    const boards = gpus.map((g) => simDevice(clock, g, opts.hardware ?? DEFAULT_SIM_HARDWARE));
    const spike = opts.faults?.tempSpike;
    const originS = clock.now();
    const thermal = boards.map((d) => {
        const th = d.hardware.thermal;
        const powerW = d.stateAt(originS).powerW;
        const fastC = th.fastCPerW * powerW;
        const slowC = opts.initialTempC !== undefined ? opts.initialTempC - th.ambientC - fastC : th.slowCPerW * powerW;
        return { atS: originS, fastC, slowC };
    });
    const samples = [];
    const sampleListeners = new Set();
    let nextK = 0;
    let stopped = false;
    const advanceThermal = (i, toS) => {
        const st = thermal[i];
        const board = boards[i];
        const th = board.hardware.thermal;
        for (const p of board.pieces(st.atS, toS)) {
            const dt = p.toS - p.fromS;
            st.fastC = th.fastCPerW * p.powerW + (st.fastC - th.fastCPerW * p.powerW) * Math.exp(-dt / th.fastTauS);
            st.slowC = th.slowCPerW * p.powerW + (st.slowC - th.slowCPerW * p.powerW) * Math.exp(-dt / th.slowTauS);
        }
        st.atS = Math.max(st.atS, toS);
        return th.ambientC + st.fastC + st.slowC;
    };
    const makeSample = (i, tS) => {
        const board = boards[i];
        const hw = board.hardware;
        const tempExactC = advanceThermal(i, tS);
        const state = board.stateAt(tS);
        const powerW = round2(board.meanPowerW(tS - 1, tS));
        const atCap = powerW >= 0.98 * hw.tdpW;
        const spiking = spike !== undefined && tS >= spike.atS && tS < spike.atS + (spike.durationS ?? 1);
        const tempC = spiking ? (spike.tempC ?? 86) : Math.round(tempExactC);
        return {
            tS,
            gpuIndex: board.gpuIndex,
            powerW,
            powerInstantW: round2(state.powerW),
            tempC,
            memTempC: hw.reports.memTemp ? Math.round(tempExactC + hw.thermal.memOffsetC) : null,
            smClockMhz: state.label === 'idle' || state.utilPct === 0 ? hw.clocks.idleSmMhz : atCap ? hw.clocks.powerCapSmMhz : hw.clocks.busySmMhz,
            memClockMhz: hw.clocks.memMhz,
            fanPct: null,
            utilPct: Math.round(state.utilPct),
            memUsedMib: hw.reports.memUsed ? Math.round(state.memUsedMib) : null,
            eventReasons: state.utilPct === 0 ? EVENT_REASON_BITS.gpuIdle : atCap ? EVENT_REASON_BITS.swPowerCap : 0n,
        };
    };
    /** Emits every sample whose time is ≤ toS, in time order (all GPUs of one instant together). */
    const emitUntil = (toS) => {
        while (!stopped && originS + nextK * periodS <= toS) {
            const tS = originS + nextK * periodS;
            nextK++;
            for (let i = 0; i < boards.length; i++) {
                const s = makeSample(i, tS);
                samples.push(s);
                for (const fn of [...sampleListeners])
                    fn(s);
            }
        }
    };
    // Auto-advance: see the header.
    let pumpedS = 0;
    let clockMovedSinceTick = false;
    let pumping = false;
    let immediate = null;
    const schedulePump = () => {
        if (!autoAdvance || stopped || immediate || sampleListeners.size === 0 || pumpedS >= autoAdvanceMaxS)
            return;
        clockMovedSinceTick = false;
        immediate = setImmediate(() => {
            immediate = null;
            if (stopped || sampleListeners.size === 0)
                return;
            if (!clockMovedSinceTick) {
                pumping = true;
                try {
                    clock.advance(periodS);
                }
                finally {
                    pumping = false;
                }
                pumpedS += periodS;
            }
            schedulePump();
        });
        // Not unref'd: libuv only skips its poll wait for referenced immediates, and an unref'd pump would
        // stall until the next timer. The pump ends by itself (no listener, the cap, or stop()).
    };
    const offClock = clock.onAdvance((_fromS, toS) => {
        if (!pumping) {
            clockMovedSinceTick = true;
            pumpedS = 0;
        }
        emitUntil(toS);
        schedulePump();
    });
    emitUntil(originS);
    const identity = {
        gpus: boards.map((d) => ({
            index: d.gpuIndex,
            name: d.hardware.gpuName,
            uuid: `GPU-sim-${d.gpuIndex}`,
            driverVersion: 'sim',
            powerLimitW: d.hardware.tdpW,
            memoryTotalMib: Math.round(d.hardware.memoryBytes / MIB),
        })),
        driverVersion: 'sim',
    };
    const session = {
        gpus,
        devices: boards,
        energySource: 'sim',
        identity,
        get meter() {
            return meter;
        },
        onSample(fn) {
            sampleListeners.add(fn);
            schedulePump();
            return () => {
                sampleListeners.delete(fn);
            };
        },
        onError() {
            // The simulator never fails on its own.
            return () => { };
        },
        failure: null,
        collected(filter = {}) {
            return samples.filter((s) => (filter.fromS === undefined || s.tS >= filter.fromS) &&
                (filter.toS === undefined || s.tS <= filter.toS) &&
                (filter.gpuIndex === undefined || s.gpuIndex === filter.gpuIndex));
        },
        async waitForSampleAfter(tS) {
            if (samples.length > 0 && samples[samples.length - 1].tS >= tS)
                return;
            if (stopped)
                throw new TelemetryError(`the simulated telemetry was stopped before a sample after ${new Date(tS * 1000).toISOString()}`);
            // The first sample time ≥ tS; the clock moves there as a real one would while waiting.
            const k = Math.max(nextK, Math.ceil((tS - originS) / periodS - 1e-9));
            const targetS = originS + k * periodS;
            if (targetS > clock.now())
                clock.advance(targetS - clock.now());
            emitUntil(Math.max(clock.now(), targetS));
        },
        async stop() {
            stopped = true;
            offClock();
            if (immediate)
                clearImmediate(immediate);
            immediate = null;
            sampleListeners.clear();
        },
    };
    const meter = new EnergyMeter({ gpus, smi: session, nvml: null, now: () => clock.now() });
    return session;
}
/**
 * Advances `clock` in `stepS` steps until `done()` is true or `maxS` virtual seconds have passed,
 * yielding to the event loop between steps so that promise callbacks (a cooldown gate resolving) run.
 * Returns the virtual seconds advanced. For runners that wait on sample-driven promises with
 * autoAdvance off.
 */
export async function advanceUntil(clock, done, opts) {
    const stepS = opts.stepS ?? 1;
    let advancedS = 0;
    await new Promise((resolve) => setImmediate(resolve));
    while (!done() && advancedS < opts.maxS) {
        clock.advance(stepS);
        advancedS += stepS;
        await new Promise((resolve) => setImmediate(resolve));
    }
    return advancedS;
}
function round2(x) {
    return Math.round(x * 100) / 100;
}
//# sourceMappingURL=sim-telemetry.js.map