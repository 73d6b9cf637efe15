/**
 * Energy of a recorded nvidia-smi trace (the `carbonbench energy` command): parse, check order, pick
 * GPUs, align power.draw, integrate each GPU over the window and add them up.
 */
import { EnergyWindowError, InputError } from '../errors.js';
import { isoFromEpochS } from '../util/time.js';
import { DEFAULT_MAX_GAP_S, POWER_DRAW_ALIGN_S, findGaps, integratePower, toPowerPoints } from './integrate.js';
export function defaultAlignS(field) {
    return field === 'power.draw' ? POWER_DRAW_ALIGN_S : 0;
}
/** Splits samples by GPU and checks that each GPU's timestamps never go backwards. */
export function samplesByGpu(samples, source) {
    const byGpu = new Map();
    for (const s of samples) {
        const list = byGpu.get(s.gpuIndex) ?? [];
        const prev = list[list.length - 1];
        if (prev && s.tS < prev.tS) {
            throw new InputError(`${source}: samples of GPU ${s.gpuIndex} go back in time (${isoFromEpochS(prev.tS)} then ${isoFromEpochS(s.tS)}); the trace is reordered or concatenated from several recordings`);
        }
        list.push(s);
        byGpu.set(s.gpuIndex, list);
    }
    return byGpu;
}
export function traceEnergy(trace, opts, source) {
    const powerField = opts.powerField ?? 'power.draw';
    const alignS = opts.alignS ?? defaultAlignS(powerField);
    const maxGapS = opts.maxGapS ?? DEFAULT_MAX_GAP_S;
    let byGpu = samplesByGpu(trace.samples, source);
    if (opts.gpus && opts.gpus.length > 0) {
        const missing = opts.gpus.filter((g) => !byGpu.has(g));
        if (missing.length > 0) {
            throw new InputError(`${source} has no samples of GPU ${missing.join(', ')}; it has GPU ${[...byGpu.keys()].join(', ')}`);
        }
        byGpu = new Map([...byGpu].filter(([g]) => opts.gpus.includes(g)));
    }
    if (byGpu.size === 0)
        throw new InputError(`${source} contains no samples`);
    const pointsByGpu = new Map([...byGpu].map(([g, list]) => [
        g,
        toPowerPoints(list.map((s) => ({ tS: s.tS, powerW: powerField === 'power.draw' ? s.powerW : s.powerInstantW })), alignS),
    ]));
    for (const [g, points] of pointsByGpu) {
        if (points.length < 2)
            throw new EnergyWindowError(`${source}: GPU ${g} has ${points.length} usable ${powerField} value(s); at least 2 are needed`);
    }
    // Default window: where every selected GPU has samples.
    const fromS = opts.fromS ?? Math.max(...[...pointsByGpu.values()].map((p) => p[0].tS));
    const toS = opts.toS ?? Math.min(...[...pointsByGpu.values()].map((p) => p[p.length - 1].tS));
    const perGpu = [...pointsByGpu].map(([gpuIndex, points]) => ({ gpuIndex, ...integratePower(points, fromS, toS, { maxGapS }) }));
    const energyJ = perGpu.reduce((sum, g) => sum + g.energyJ, 0);
    return {
        energyJ,
        durationS: toS - fromS,
        samples: perGpu.reduce((sum, g) => sum + g.samples, 0),
        meanPowerW: energyJ / (toS - fromS),
        // With several GPUs, peak is the highest per-GPU peak (not the peak of the sum).
        peakPowerW: Math.max(...perGpu.map((g) => g.peakPowerW)),
        fromS,
        toS,
        missedSamples: perGpu.flatMap((g) => g.missedSamples),
        perGpu,
        powerField,
        alignS,
    };
}
/** Gaps over maxGapS in each GPU's usable samples, for error reports. */
export function traceGaps(trace, powerField, alignS, maxGapS = DEFAULT_MAX_GAP_S) {
    return [...samplesByGpu(trace.samples, 'trace').values()].flatMap((list) => findGaps(toPowerPoints(list.map((s) => ({ tS: s.tS, powerW: powerField === 'power.draw' ? s.powerW : s.powerInstantW })), alignS), maxGapS));
}
//# sourceMappingURL=trace.js.map